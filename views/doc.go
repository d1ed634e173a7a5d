// Package views holds the chat window's templ components and their props.
// The fragments a socket sends with every message are written by hand
// (message.go), as templ components and as append functions. It is a
// leaf: it imports templ only.
package views
