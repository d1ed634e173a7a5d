package views

import "time"

// Assets are the content-hashed URLs of the page's static files.
type Assets struct {
	CSS, HTMX, HTMXWS, ChatJS string
	// UploadJS sends the customer's files (the composer's attach control).
	UploadJS string
	// SignInJS is the brand's sign-in script, served only with
	// Page.AuthMethod.
	SignInJS string
	// BrandCSS is the stylesheet of the brand's settings.
	BrandCSS string
	// FrameJS is the bridge to a brand's page, served only to a window
	// framed by one (docs/embedding.md).
	FrameJS string
}

// Brand is what the brand's settings put in the page.
type Brand struct {
	Title, Greeting string
	// LogoURL is the brand's logo ("": none).
	LogoURL string
}

// Page is everything the chat window shows on a full load or reload.
type Page struct {
	// Lang and Dir are the page's language (a BCP 47 tag) and its text
	// direction (ltr, rtl), for <html lang dir>.
	Lang, Dir string
	Assets    Assets
	// SocketURL is the browser socket's path (htmx ws-connect).
	SocketURL string
	// StartURL is where a page without an identity asks for one when the
	// customer sends their first message (see Window.Anonymous).
	StartURL string
	// AuthMethod, when set, names the embedding page's JavaScript function
	// that signs the customer in with the brand (LivePerson's "JS Method
	// Name"): the page calls it to start and whenever the window asks
	// (Connection state "signin"), and posts its answer to StartURL.
	AuthMethod string
	Window     Window
	Brand      Brand
	// FrameOrigins are the origins (CSP sources) a framed window's bridge
	// answers (Assets.FrameJS).
	FrameOrigins string
}

// Window is the live part of the page: what a socket update re-renders.
type Window struct {
	Connection Connection
	Agent      Agent
	Messages   []Message
	Typing     bool
	// Phase is where the conversation is: "new" (none yet: the first message
	// creates it), "open", "survey" (its post-conversation survey runs:
	// the composer answers it), "closed" (the legacy rating offered),
	// "rated" or "ended" (after its survey).
	Phase string
	// Rating is the customer's 1–5 answer once given (0: declined).
	Rating int
	// Anonymous: the visitor has no identity yet, so the page opens no
	// socket; its composer's first message asks for one (Page.StartURL)
	// and only then connects. Nothing is created for a visitor who only
	// looks.
	Anonymous bool
	// ForgetURL ends the conversation and forgets the customer on this
	// device (a POST form; empty: not offered).
	ForgetURL string
	// Attach is the composer's file control; its URL empty: none (a page
	// without an identity yet has none either).
	Attach Attach
}

// Connection is the state of the session's messaging socket, shown as a
// banner: connecting, open, reconnecting, offline, or signin (the customer's
// token was refused and the page must sign them in again).
type Connection struct {
	State  string
	Detail string
}

// Agent is the agent assigned to the conversation, if any, and what the
// customer waiting for one is told (docs/protocol.md, Queue state).
type Agent struct {
	Name string
	// Survey: the conversation ended and a survey asks about it (Name
	// is who the customer talked to).
	Survey bool
	// Left names the agent who left; Transferring: to another skill.
	Left         string
	Transferring bool
	// Wait is how soon an agent usually answers ("10 minutes"; empty:
	// unknown); ClosedUntil (and its ISO form) when the contact center
	// opens again, if it is closed.
	Wait                        string
	ClosedUntil, ClosedUntilISO string
}

// Message is one bubble.
type Message struct {
	// ID is the bubble's DOM id, stable across updates of its ticks.
	ID       string
	DialogID string
	// Seq is the message's sequence, valid when HasSeq (a message being sent
	// has none yet).
	Seq    int64
	HasSeq bool
	// From is agent, consumer or system.
	From string
	Text string
	// Parts is Text cut into plain runs and links; nil when it has no
	// link (or is not a text message's).
	Parts []TextPart
	// At is when the message was sent (the zero time: not known).
	At time.Time
	// Receipt is the state of the customer's own messages: pending, sent,
	// accepted, read or failed; empty for others.
	Receipt string
	// ReceiptLabel is the text alternative of the ticks ("Sending",
	// "Sent", "Delivered", "Read", "Not sent"), with the time of that
	// state, ReceiptAt (the zero time: not known).
	ReceiptLabel string
	ReceiptAt    time.Time
	// LocalID identifies a customer's message before it has a sequence, so a
	// failed send can be retried.
	LocalID string
	// Card is an agent's structured content, shown instead of Text; nil
	// for a plain message.
	Card *CardNode
	// File is a shared file, shown instead of Text; nil for others.
	File *File
	// QuickReplies are the answers offered under the message, while they
	// are open.
	QuickReplies []Choice
}
