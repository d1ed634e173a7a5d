package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// TestSimulateRoutingFlags: -agent takes skills (today's NAME:PASSWORD
// still works), -engagement routes a campaign's engagement to a skill,
// -closed-until closes the contact center; the made-up agent takes every
// engagement's skill, the demo bot every skill there is.
func TestSimulateRoutingFlags(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		wantAgents  []simulator.Agent
		wantEngs    []simulator.Engagement
		wantClosed  time.Time
		ignorePassw bool
	}{
		{"name and password", []string{"-agent", "alice:secret"},
			[]simulator.Agent{{Name: "alice", Password: "secret"}}, nil, time.Time{}, false},
		{"skills", []string{"-agent", "alice:secret:10,20", "-agent", "bob:pw:30"},
			[]simulator.Agent{{Name: "alice", Password: "secret", Skills: []string{"10", "20"}}, {Name: "bob", Password: "pw", Skills: []string{"30"}}}, nil, time.Time{}, false},
		{"a password with colons needs the skills part", []string{"-agent", "alice:se:cr:et:", "-agent", "bob:p:w:7"},
			[]simulator.Agent{{Name: "alice", Password: "se:cr:et"}, {Name: "bob", Password: "p:w", Skills: []string{"7"}}}, nil, time.Time{}, false},
		{"engagements and the made-up agent", []string{"-engagement", "100:200:20", "-engagement", "100:201:30"},
			[]simulator.Agent{{Name: "agent", Skills: []string{"20", "30"}}},
			[]simulator.Engagement{{CampaignID: "100", EngagementID: "200", SkillID: "20"}, {CampaignID: "100", EngagementID: "201", SkillID: "30"}}, time.Time{}, true},
		{"the bot takes every skill", []string{"-agent", "alice:pw:10", "-engagement", "1:2:20", "-bot-delay", "1s"},
			[]simulator.Agent{{Name: "alice", Password: "pw", Skills: []string{"10"}}, {Name: "bot", Skills: []string{"20", "10"}}},
			[]simulator.Engagement{{CampaignID: "1", EngagementID: "2", SkillID: "20"}}, time.Time{}, true},
		{"closed until a time", []string{"-agent", "a:b", "-closed-until", "2026-01-05T09:00:00Z"},
			[]simulator.Agent{{Name: "a", Password: "b"}}, nil, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseSimulate(tt.args, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			opts := []cmp.Option{cmpopts.EquateEmpty()}
			if tt.ignorePassw {
				opts = append(opts, cmpopts.IgnoreFields(simulator.Agent{}, "Password"))
			}
			if diff := cmp.Diff(tt.wantAgents, c.agents, opts...); diff != "" {
				t.Errorf("agents (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEngs, c.engagements, opts...); diff != "" {
				t.Errorf("engagements (-want +got):\n%s", diff)
			}
			if !c.closedUntil.Equal(tt.wantClosed) {
				t.Errorf("closed until %v, want %v", c.closedUntil, tt.wantClosed)
			}
		})
	}
	// A duration is from now.
	c, err := parseSimulate([]string{"-closed-until", "2h"}, func(string) string { return "" }, io.Discard)
	if err != nil || time.Until(c.closedUntil) < time.Hour || time.Until(c.closedUntil) > 3*time.Hour {
		t.Errorf("-closed-until 2h: %v, %v", c.closedUntil, err)
	}
}

// TestRoutingSettingsRefused: bad skills, engagements, closures and
// campaign settings get an error that says what is wrong.
func TestRoutingSettingsRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"skill not a number", []string{"simulate", "-agent", "alice:pw:sales"}, nil, `skill "sales"`},
		{"password with a colon, no skills part", []string{"simulate", "-agent", "alice:pa:ss"}, nil, "trailing"},
		{"engagement of two parts", []string{"simulate", "-engagement", "100:200"}, nil, "CAMPAIGN:ENGAGEMENT:SKILL"},
		{"engagement not numbers", []string{"simulate", "-engagement", "a:b:c"}, nil, "not an id"},
		{"engagement twice", []string{"simulate", "-engagement", "1:2:3", "-engagement", "1:2:4"}, nil, "twice"},
		{"closed until never", []string{"simulate", "-closed-until", "soon"}, nil, "RFC 3339"},
		{"campaign without engagement", nil, map[string]string{"LP_CAMPAIGN_ID": "100"}, "go together"},
		{"engagement without campaign", nil, map[string]string{"LP_ENGAGEMENT_ID": "200"}, "go together"},
		{"campaign not a number", nil, map[string]string{"LP_CAMPAIGN_ID": "spring", "LP_ENGAGEMENT_ID": "200"}, "numbers"},
		{"office hours without a span", nil, map[string]string{"CHATWINDOW_HOURS": "Mon-Fri"}, "HH:MM"},
		{"office hours in no zone", []string{"-hours", "Mon 09:00-17:00", "-hours-zone", "Mars/Olympus"}, nil, "-hours-zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("run(%q) = %v (stderr %q), want an error mentioning %q", tt.args, err, stderr.String(), tt.want)
			}
		})
	}
}

// TestWindowCampaign: LP_CAMPAIGN_ID and LP_ENGAGEMENT_ID are the window's
// campaignInfo.
func TestWindowCampaign(t *testing.T) {
	env := map[string]string{"LP_CAMPAIGN_ID": " 418732213", "LP_ENGAGEMENT_ID": "425842913 "}
	c, err := parseWindow(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&protocol.CampaignInfo{CampaignID: "418732213", EngagementID: "425842913"}, c.campaign); diff != "" {
		t.Errorf("campaign (-want +got):\n%s", diff)
	}
}
