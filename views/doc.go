// Package views holds the chat window's templ components and their props.
// It is a leaf: it imports templ only.
package views
