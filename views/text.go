package views

// TextPart is a run of a message's text: plain text, or a link when URL is
// set (an http or https URL, internal/links; Text is the URL as written).
type TextPart struct {
	Text, URL string
}
