package views

import (
	"context"
	"fmt"
	"strings"
)

// Translator gives the window's strings in the customer's language, keyed
// by their English text (internal/i18n holds the catalogue). The web layer
// puts one in the context a page or a fragment renders with
// (WithTranslator); without one, the strings are English.
type Translator interface {
	T(s string) string
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
