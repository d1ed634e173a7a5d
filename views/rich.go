package views

// CardNode is one element of a structured-content card, already made safe
// (internal/richcontent): texts are plain, a link is https, an image's URL
// is a path of the window's own (its asset or its image proxy).
type CardNode struct {
	// Kind is layout, text, image, link or button.
	Kind string
	// Layout is vertical, horizontal or carousel (layouts only).
	Layout   string
	Children []CardNode
	// Text is a text's text or a link's or button's title.
	Text string
	// URL is an image's source or a link's target.
	URL string
	// Alt is an image's text alternative.
	Alt string
	// Bold, Italic and Size (small, medium, large) style a text.
	Bold, Italic bool
	Size         string
	// Choice is what a button answers.
	Choice Choice
	// Link is a link's index in its message's links: chat.js sends it
	// when the link is clicked, and the server publishes the click's
	// ACTION (docs/richcontent.md, "A link's click").
	Link int
}

// Choice is a card button or quick reply: a click sends the page's
// "action" frame with the message's dialog and sequence and this index;
// the server checks it against what the agent sent.
type Choice struct {
	Index int
	Title string
	// Text is what the click answers (checked by the server).
	Text string
	// Closed: the message is answered (a message is answered once): the
	// button is disabled. Chosen: this was the answer.
	Closed, Chosen bool
}
