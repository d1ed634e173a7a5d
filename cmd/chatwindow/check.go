package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// checkConfig is what the flags of chatwindow check decide.
type checkConfig struct {
	account, csds string
	overrides     messaging.Overrides
	// id is how the consumer token is got, as the window would get it.
	id checkIdentity
	// create: open a conversation and close it again.
	create      bool
	stepTimeout time.Duration
}

func parseCheck(args []string, getenv func(string) string, stderr io.Writer) (checkConfig, error) {
	fs := flag.NewFlagSet("chatwindow check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	account := fs.String("account", getenv("LP_ACCOUNT"), "LivePerson account to check (LP_ACCOUNT)")
	csds := fs.String("csds", envOr(getenv, "LP_CSDS", messaging.DefaultCSDS), "the domain API (CSDS) as a URL")
	create := fs.Bool("create", false, "also open a conversation and close it again (an agent of the account may see it ring)")
	stepTimeout := fs.Duration("step-timeout", 10*time.Second, "how long each step may take")
	idFlags := addCheckIDFlags(fs)
	if err := fs.Parse(args); err != nil {
		return checkConfig{}, err
	}
	if fs.NArg() > 0 {
		return checkConfig{}, fmt.Errorf("check: unexpected arguments %q", fs.Args())
	}
	if *account == "" {
		return checkConfig{}, errors.New("check: which account? Set LP_ACCOUNT or -account")
	}
	id, err := idFlags.resolve(fs, getenv)
	if err != nil {
		return checkConfig{}, fmt.Errorf("check: %w", err)
	}
	return checkConfig{
		account: *account, csds: *csds,
		overrides: messaging.Overrides{AsyncMessagingEnt: getenv("LP_ASYNCMESSAGINGENT"), IDP: getenv("LP_IDP")},
		id:        id, create: *create, stepTimeout: *stepTimeout,
	}, nil
}

// runCheck tries, step by step, what the window will do with a real
// account: discover its hosts, get a consumer token the way the window
// gets its customers' (check_identity.go), open the consumer socket,
// authenticate, read the clock, subscribe to the consumer's conversations,
// (with -create) open and close one, and extend a connector's identity as
// the window does on 4407. It prints a line a
// step with its time, and for a failure what is wrong and what to change;
// the steps after a failure are skipped (each needs the ones before). It
// returns an error unless every step passed.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseCheck(args, getenv, stderr)
	if err != nil {
		return err
	}
	c := &checker{cfg: cfg, hc: &http.Client{Timeout: cfg.stepTimeout}, notes: make(chan protocol.Frame, 64)}
	defer c.close()
	fmt.Fprintf(stdout, "chatwindow check: account %s, domain API %s, identity: %s\n", cfg.account, cfg.csds, cfg.id)
	steps := c.steps()
	for i, s := range steps {
		sctx, cancel := context.WithTimeout(ctx, cfg.stepTimeout)
		start := time.Now()
		detail, err := s.run(sctx)
		took := time.Since(start)
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "  FAIL  %-22s %8s  %v\n", s.name, ms(took), err)
			if s.advice != nil {
				fmt.Fprintf(stdout, "        → %s\n", s.advice(err))
			}
			for _, rest := range steps[i+1:] {
				fmt.Fprintf(stdout, "  skip  %s\n", rest.name)
			}
			return fmt.Errorf("check: %s failed", s.name)
		}
		fmt.Fprintf(stdout, "  ok    %-22s %8s  %s\n", s.name, ms(took), detail)
	}
	fmt.Fprintf(stdout, "all %d steps passed\n", len(steps))
	return nil
}

// ms shows a step's time in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// checkStep is one step: run does it and describes what it found; advice
// says, for its error, what to change.
type checkStep struct {
	name   string
	run    func(ctx context.Context) (string, error)
	advice func(err error) string
}

// checker holds what the steps found for the ones after them.
type checker struct {
	cfg   checkConfig
	hc    *http.Client
	ep    messaging.Endpoints
	token string
	// idToken is the unauthenticated connector's id_token (LP_CONNECTOR_ID).
	idToken string
	conn    *messaging.Conn
	notes   chan protocol.Frame // the socket's notifications
	conv    string              // the conversation -create opened
}

func (c *checker) close() {
	if c.conn != nil {
		_ = c.conn.Close()
	}
}

func (c *checker) steps() []checkStep {
	steps := []checkStep{{"domain API", c.discover, c.discoverAdvice}}
	steps = append(steps, c.tokenSteps()...)
	steps = append(steps, []checkStep{
		{"socket", c.dial, c.dialAdvice},
		{"InitConnection", c.initConnection, c.initAdvice},
		{"GetClock", c.getClock, c.requestAdvice},
		{"conversations", c.subscribe, c.requestAdvice},
	}...)
	if c.cfg.create {
		steps = append(steps,
			checkStep{"open conversation", c.openConversation, c.openAdvice},
			checkStep{"close conversation", c.closeConversation, c.requestAdvice})
	}
	if c.cfg.id.mode == idConnector {
		// Last, as the window does it: when the socket's token runs out.
		steps = append(steps, checkStep{"extend identity", c.extendIdentity, c.extendAdvice})
	}
	return steps
}

func (c *checker) discover(ctx context.Context) (string, error) {
	ep, err := messaging.Discover(ctx, c.hc, c.cfg.csds, c.cfg.account, c.cfg.overrides)
	if err != nil {
		return "", err
	}
	c.ep = ep
	return fmt.Sprintf("asyncMessagingEnt %s, idp %s", ep.AsyncMessagingEnt, ep.IDP), nil
}

func (c *checker) discoverAdvice(err error) string {
	var se *messaging.StatusError
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized:
		return fmt.Sprintf("the domain API at %s does not know account %s: check LP_ACCOUNT, and LP_CSDS if the account lives elsewhere", c.cfg.csds, c.cfg.account)
	case errors.As(err, &se):
		return fmt.Sprintf("the domain API at %s answered %d: check LP_CSDS (it should be the account's domain API, e.g. %s)", c.cfg.csds, se.StatusCode, messaging.DefaultCSDS)
	case errors.Is(err, messaging.ErrNoMessaging):
		return "the account's domain API does not list the consumer messaging services: is messaging enabled on the account? LP_ASYNCMESSAGINGENT and LP_IDP can name the hosts"
	}
	return fmt.Sprintf("%s cannot be reached from here: check LP_CSDS, DNS, the network and any proxy", c.cfg.csds)
}

// errTokenExpired: the token's own exp has passed (by this machine's clock).
var errTokenExpired = errors.New("the token expired")

// getToken is the token step of a demo signup and of LP_JWT.
func (c *checker) getToken(ctx context.Context) (string, error) {
	if c.cfg.id.mode == idToken {
		c.token = c.cfg.id.token
		return describeToken(c.token)
	}
	tok, err := messaging.Signup(ctx, c.hc, c.ep)
	if err != nil {
		return "", err
	}
	c.token = tok
	return describeToken(tok)
}

// describeToken reads a consumer token's claims (unverified: only the
// service can verify it): whose it is and how long it lives. A token past
// its exp is an error wrapping errTokenExpired.
func describeToken(tok string) (string, error) {
	claims, err := messaging.ReadClaims(tok)
	if err != nil {
		return "", fmt.Errorf("the token is not a JWT: %w", err)
	}
	if !claims.Exp.IsZero() && !claims.Exp.After(time.Now()) {
		return "", fmt.Errorf("%w at %s (%s ago)", errTokenExpired, claims.Exp.UTC().Format(time.RFC3339), time.Since(claims.Exp).Round(time.Second))
	}
	detail := "consumer " + claims.Sub
	if !claims.Exp.IsZero() {
		detail += fmt.Sprintf(", expires in %s", time.Until(claims.Exp).Round(time.Minute))
	}
	return detail, nil
}

func (c *checker) tokenAdvice(err error) string {
	var se *messaging.StatusError
	switch {
	case errors.Is(err, errTokenExpired):
		return "LP_JWT has expired: get a fresh token for this consumer"
	case c.cfg.id.mode == idToken:
		return "LP_JWT must be the consumer token LivePerson issued (three base64url parts)"
	case errors.As(err, &se) && (se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden):
		return fmt.Sprintf("the IDP at %s refused a demo signup (%d): this account may take only connector or authenticated identities: set LP_CONNECTOR_ID, or LP_AUTH_CODE to a brand JWT", c.ep.IDP, se.StatusCode)
	}
	return c.idpAdvice(err)
}

// idpAdvice is the advice for an IDP that failed for no reason of the
// identity's: it answered an error of its own, or cannot be reached.
func (c *checker) idpAdvice(err error) string {
	var se *messaging.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("the IDP at %s answered %d: try again later; if it lasts, check LP_IDP", c.ep.IDP, se.StatusCode)
	}
	return fmt.Sprintf("the IDP at %s cannot be reached from here: check LP_IDP, DNS and the network", c.ep.IDP)
}

// dial opens the consumer socket without credentials: InitConnection
// brings them next, as a browser's window does.
func (c *checker) dial(ctx context.Context) (string, error) {
	conn, err := messaging.Dial(ctx, c.ep.ConsumerURL(), messaging.DialOptions{
		HTTPClient: c.hc, RequestTimeout: c.cfg.stepTimeout, PingInterval: -1,
		OnNotification: func(f protocol.Frame, _ time.Time) {
			select {
			case c.notes <- f:
			default: // nobody reads them past the snapshot
			}
		},
	})
	if err != nil {
		return "", err
	}
	c.conn = conn
	return c.ep.ConsumerURL(), nil
}

func (c *checker) dialAdvice(err error) string {
	var se *messaging.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("asyncMessagingEnt %s refused the socket (%d): check LP_ASYNCMESSAGINGENT and that the account has messaging", c.ep.AsyncMessagingEnt, se.StatusCode)
	}
	return fmt.Sprintf("asyncMessagingEnt %s cannot be reached from here (WebSocket over %s): check LP_ASYNCMESSAGINGENT, the network and any proxy", c.ep.AsyncMessagingEnt, c.ep.Scheme)
}

func (c *checker) initConnection(ctx context.Context) (string, error) {
	f := protocol.Frame{Kind: protocol.KindReq, ID: "init", Type: protocol.TypeInitConnection, Headers: protocol.List[protocol.Header]{
		*messaging.DefaultClientProperties(),
		{Type: ".ams.headers.ConsumerAuthentication", JWT: c.token},
	}}
	resp, err := c.conn.RoundTrip(ctx, f)
	if err != nil {
		return "", err
	}
	if err := resp.ResponseError(); err != nil {
		return "", err
	}
	return "the token was accepted", nil
}

func (c *checker) initAdvice(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == http.StatusUnauthorized {
		if c.cfg.id.mode == idToken {
			return "the service refused the token: LP_JWT is expired, of another account, or not issued by this account's IDP"
		}
		// The IDP issued the token a moment ago: the hosts disagree.
		return fmt.Sprintf("the service refused the token the IDP at %s just issued: the IDP and asyncMessagingEnt %s must be the same account's (leave LP_IDP and LP_ASYNCMESSAGINGENT unset to take both from the domain API)", c.ep.IDP, c.ep.AsyncMessagingEnt)
	}
	return c.requestAdvice(err)
}

func (c *checker) requestAdvice(err error) string {
	switch {
	case errors.Is(err, messaging.ErrTimeout):
		return "the socket is open but the service did not answer in time: try again; if it lasts, the service or the network in between is in trouble"
	case errors.Is(err, messaging.ErrClosed):
		return "the service closed the socket: run with the same settings again; if it lasts, the account may not allow this identity"
	}
	return "the service refused the request: see its answer above"
}

func (c *checker) getClock(ctx context.Context) (string, error) {
	sent := time.Now()
	ms, err := c.conn.GetClock(ctx)
	if err != nil {
		return "", err
	}
	// The service read its clock somewhere between sending and answering.
	mid := sent.Add(time.Since(sent) / 2)
	skew := time.UnixMilli(ms).Sub(mid).Round(time.Millisecond)
	switch {
	case skew > 0:
		return fmt.Sprintf("the service's clock is %s ahead of this machine's", skew), nil
	case skew < 0:
		return fmt.Sprintf("the service's clock is %s behind this machine's", -skew), nil
	}
	return "the service's clock agrees with this machine's (within 1 ms)", nil
}

func (c *checker) subscribe(ctx context.Context) (string, error) {
	var resp protocol.SubscriptionResponse
	err := c.conn.Request(ctx, protocol.TypeSubscribeExConversations, protocol.SubscribeExConversations{
		ConvState: protocol.Strings{protocol.StateOpen, protocol.StateClose},
		Stage:     protocol.Strings{protocol.StateOpen, protocol.StateClose},
	}, &resp)
	if err != nil {
		return "", err
	}
	// The snapshot follows the answer; a service that sends none is not
	// wrong, so the wait is short and only described.
	wait := time.NewTimer(2 * time.Second)
	defer wait.Stop()
	for {
		select {
		case f := <-c.notes:
			if protocol.Canonical(f.Type) != protocol.TypeExConversationChange {
				continue
			}
			var n protocol.ExConversationChangeNotification
			if err := json.Unmarshal(f.Body, &n); err != nil {
				return "", fmt.Errorf("conversation snapshot: %w", err)
			}
			open := 0
			for _, ch := range n.Changes {
				if ch.Result.ConversationDetails.Stage == protocol.StateOpen {
					open++
				}
			}
			return fmt.Sprintf("subscribed (%s); the consumer has %d open conversations", resp.SubscriptionID, open), nil
		case <-wait.C:
			return fmt.Sprintf("subscribed (%s); no snapshot within 2 s", resp.SubscriptionID), nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (c *checker) openConversation(ctx context.Context) (string, error) {
	var resp protocol.RequestConversationResponse
	if err := c.conn.Request(ctx, protocol.TypeConsumerRequestConversation, protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"}, &resp); err != nil {
		return "", err
	}
	c.conv = resp.ConversationID
	return "conversation " + resp.ConversationID, nil
}

func (c *checker) openAdvice(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == http.StatusConflict {
		if c.cfg.id.mode == idAuthenticated {
			return "this brand customer already has an open conversation (the same sub is the same consumer on every device): close it, or check with another customer's brand JWT"
		}
		return "this consumer already has an open conversation: close it, or check with a fresh identity (without LP_JWT)"
	}
	return c.requestAdvice(err)
}

func (c *checker) closeConversation(ctx context.Context) (string, error) {
	err := c.conn.Request(ctx, protocol.TypeUpdateConversationField, protocol.UpdateConversationField{
		ConversationID: c.conv,
		ConversationField: protocol.List[protocol.ConversationField]{
			{Field: protocol.FieldConversationState, ConversationState: protocol.StateClose},
		},
	}, nil)
	if err != nil {
		return "", err
	}
	return "conversation " + c.conv + " closed", nil
}
