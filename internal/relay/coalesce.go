package relay

import "strings"

// merge adds b, which happened after a, to a: the result renders, against
// the view after both, what rendering a and then b would have shown.
// Messages are matched by key: a later copy replaces an earlier one where
// it is, so that a message added and then updated is added as it is now.
func merge(a, b Change) Change {
	for _, m := range b.Added {
		if !replace(a.Added, m) {
			a.Added = append(a.Added, m)
		}
	}
	for _, m := range b.Updated {
		if replace(a.Added, m) {
			continue
		}
		if !replace(a.Updated, m) {
			a.Updated = append(a.Updated, m)
		}
	}
	a.Reset = a.Reset || b.Reset
	a.Typing = a.Typing || b.Typing
	a.Agent = a.Agent || b.Agent
	a.Phase = a.Phase || b.Phase
	a.Connection = a.Connection || b.Connection
	switch {
	case b.Announce == "" || strings.Contains(a.Announce, b.Announce):
	case a.Announce == "":
		a.Announce = b.Announce
	default:
		a.Announce += " " + b.Announce
	}
	return a
}

// replace puts m in place of the message of ms with its key.
func replace(ms []Message, m Message) bool {
	for i := range ms {
		if ms[i].Key == m.Key {
			ms[i] = m
			return true
		}
	}
	return false
}
