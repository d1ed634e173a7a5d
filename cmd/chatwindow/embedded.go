package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/connlimit"
	"github.com/chatwindow/chatwindow/internal/demobot"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/web/console"
	"github.com/chatwindow/chatwindow/web/node"
)

// embeddedAccount is the account the window's embedded service serves.
const embeddedAccount = "12345678"

// botName is the demo bot's agent.
const botName = "bot"

// The embedded service's demo routing: its one engagement (of its one
// campaign) routes to the demo skill, which the console's agent and the
// demo bot have (docs/simulator.md, Routing).
const (
	demoSkill      = "1000"
	demoCampaign   = "2000"
	demoEngagement = "2001"
)

// embedded is the messaging service the window runs in this process, on
// loopback, when no LivePerson account is set, with the agent console in
// front of it.
type embedded struct {
	upstream
	svc        *simulator.Service
	consoleURL string
	// bot is the demo bot's account (no Name: no bot).
	bot simulator.Agent
	// campaign is the engagement the window's conversations come from:
	// the configured one (LP_CAMPAIGN_ID, LP_ENGAGEMENT_ID) or the demo's,
	// routed to the demo skill.
	campaign *protocol.CampaignInfo
}

// startEmbedded starts the embedded service and its agent console on
// cfg.simAddr and says where they are. They serve until service ends; then
// the console's desks, which live until life ends, are waited for (wg
// counts that goroutine). origins may frame the console (the window's QA
// view).
func startEmbedded(life, service context.Context, wg *sync.WaitGroup, cfg windowConfig, logger *slog.Logger, hc *http.Client, origins string, stdout io.Writer) (*embedded, error) {
	e := &embedded{upstream: upstream{account: embeddedAccount}, campaign: cfg.campaign}
	if e.campaign == nil {
		e.campaign = &protocol.CampaignInfo{CampaignID: demoCampaign, EngagementID: demoEngagement}
	}
	password := randomPassword()
	skills := []string{demoSkill}
	agents := []simulator.Agent{{Name: "agent", Password: password, Skills: skills}}
	if cfg.botDelay > 0 {
		e.bot = simulator.Agent{Name: botName, Password: randomPassword(), Skills: skills}
		agents = append(agents, e.bot)
	}
	svc, err := simulator.New(simulator.Config{
		Account: e.account, Agents: agents, Logger: logger.With("component", "simulator"),
		Engagements: []simulator.Engagement{{CampaignID: string(e.campaign.CampaignID), EngagementID: string(e.campaign.EngagementID), SkillID: demoSkill}},
		Survey:      cfg.survey,
		// The customers' identities as the window gets them.
		ConnectorID: cfg.identity.connector, AuthKey: cfg.identity.authKey,
		TokenTTL: cfg.identity.tokenTTL, ExtTokenTTL: cfg.identity.extTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded service: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.simAddr)
	if err != nil {
		svc.Close()
		return nil, fmt.Errorf("embedded service: listen %s: %w", cfg.simAddr, err)
	}
	e.svc = svc
	e.csds = "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "messaging service on %s (account %s; agent \"agent\", password %s)\n", e.csds, e.account, password)
	// The agent console is served by the embedded service's listener.
	con, err := node.NewConsole(life, node.ConsoleConfig{
		Logger: logger, Service: svc, ServiceURL: e.csds, Account: e.account, HTTPClient: hc,
		Web: console.Config{
			SessionKeys: cfg.keys, Secure: !isLoopback(cfg.simAddr), FrameAncestors: origins,
			SocketsPerClient: connlimit.DefaultSocketsPerClient,
		},
		Skills: svc.Skills(),
	})
	if err != nil {
		ln.Close()
		svc.Close()
		return nil, err
	}
	e.consoleURL = e.csds + console.Prefix + "/"
	fmt.Fprintf(stdout, "agent console on %s\n", e.consoleURL)
	wg.Add(1)
	// The embedded service (and its console) serves until service ends;
	// then the console's desks are waited for.
	go func() {
		defer wg.Done()
		// No cap on its connections: its clients are this window's
		// sessions (one socket each, all from loopback).
		if err := serve(service, logger, ln, connlimit.Deadlines(con, cfg.bodyTimeout, connlimit.DefaultResponseTimeout), svc.Close); err != nil {
			logger.Error("embedded service stopped", "error", err)
		}
		con.Wait()
	}()
	return e, nil
}

// startBot runs the demo bot as agent a on the service up until ctx ends;
// image is its card's image URL ("" for the bot's default).
func startBot(ctx context.Context, wg *sync.WaitGroup, logger *slog.Logger, hc *http.Client, up upstream, a simulator.Agent, delay time.Duration, image string) {
	wg.Add(1)
	// The bot runs until ctx ends (or its login is refused).
	go func() {
		defer wg.Done()
		log := logger.With("component", "demobot")
		ep, err := messaging.Discover(ctx, hc, up.csds, up.account, messaging.Overrides{})
		if err != nil {
			log.Error("demo bot: discovery", "error", err)
			return
		}
		err = demobot.Run(ctx, demobot.Config{Endpoints: ep, Username: a.Name, Password: a.Password, HTTPClient: hc, Delay: delay, Logger: log, CardImageURL: image})
		if err != nil {
			log.Error("demo bot stopped", "error", err)
		}
	}()
}

func randomPassword() string {
	return rand.Text()[:16]
}
