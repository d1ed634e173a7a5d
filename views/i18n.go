package views

import (
	"context"
	"fmt"
	"strings"

	"github.com/a-h/templ"
)

// Translator gives the window's strings in the customer's language, keyed
// by their English text (internal/i18n holds the catalogue). The web layer
// puts one in the context a page or a fragment renders with
// (WithTranslator); without one, the strings are English.
type Translator interface {
	T(s string) string
	// Sentences translates a text that joins several of the window's
	// sentences (a screen reader's announcement).
	Sentences(text string) string
}

type translatorKey struct{}

// WithTranslator is ctx whose views speak tr's language.
func WithTranslator(ctx context.Context, tr Translator) context.Context {
	return context.WithValue(ctx, translatorKey{}, tr)
}

// t is s in the language of ctx.
func t(ctx context.Context, s string) string {
	if tr, ok := ctx.Value(translatorKey{}).(Translator); ok {
		return tr.T(s)
	}
	return s
}

// tf is format in the language of ctx, with args put in.
func tf(ctx context.Context, format string, args ...any) string {
	return fmt.Sprintf(t(ctx, format), args...)
}

// around is the translation of a format with one %s cut there: what comes
// before the value and after it, for markup around the value.
func around(ctx context.Context, format string) (before, after string) {
	before, after, _ = strings.Cut(t(ctx, format), "%s")
	return before, after
}

// sentences is an announcement in the language of ctx.
func sentences(ctx context.Context, text string) string {
	if tr, ok := ctx.Value(translatorKey{}).(Translator); ok {
		return tr.Sentences(text)
	}
	return text
}

// says are the texts chat.js and signin.js write themselves, in the
// language of ctx, as data-say-* attributes of the page's main.
func says(ctx context.Context) templ.Attributes {
	return templ.Attributes{
		"data-say-unreachable":    t(ctx, "The chat service is not reachable right now. Please try again in a moment."),
		"data-say-reconnecting":   t(ctx, "Connection lost. Reconnecting…"),
		"data-say-disconnected":   t(ctx, "Disconnected. Reload the page to chat again."),
		"data-say-no-sign-in":     t(ctx, "This window cannot sign you in."),
		"data-say-sign-in-failed": t(ctx, "We could not sign you in. Please sign in on the site and try again."),
		"data-say-try-again":      t(ctx, "Try again"),
		"data-say-unread":         t(ctx, "%s unread"),
	}
}
