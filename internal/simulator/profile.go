package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Customer data (docs/simulator.md, Customer data): what a consumer says of
// itself in userprofile.SetUserProfile and what its brand's identity token
// said, kept per consumer, read by agents in GetUserProfile.

// ConsumerInfo is what the service knows of a consumer.
type ConsumerInfo struct {
	ID string
	// Authenticated is true for a consumer of a brand identity token
	// (authenticate); BrandSub and BrandIss are that token's sub and iss.
	Authenticated      bool
	BrandSub, BrandIss string
	// Profile is what the agent socket's GetUserProfile answers for it:
	// the SDEs of its SetUserProfile in AuthenticatedData, the brand
	// token's claims in Claims.
	Profile protocol.UserProfile
}

// Consumer describes a consumer by its id; false when unknown.
func (s *Service) Consumer(id string) (ConsumerInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.consumers[id]
	if rec == nil {
		return ConsumerInfo{}, false
	}
	info := ConsumerInfo{ID: id, Profile: rec.profileView()}
	if b := rec.brand; b != nil {
		info.Authenticated, info.BrandSub, info.BrandIss = true, b.sub, b.iss
	}
	return info, true
}

// setUserProfile stores a consumer's profile (it replaces the previous
// one). Only Customer Info and Personal Info SDEs may be sent (Connector
// API, CONVERSATION), each with its object (schemas customerInfo.json,
// personalInfo.json: info, personal).
func (s *Service) setUserProfile(c *socket, f protocol.Frame) {
	var b protocol.SetUserProfile
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	if b.AuthenticatedData != nil {
		if err := checkSDEs(b.AuthenticatedData.LPSDEs, true); err != nil {
			c.fail(f, 400, "authenticatedData.lp_sdes: "+err.Error())
			return
		}
	}
	if len(b.PrivateData) > 0 && !isJSONObject(b.PrivateData) {
		c.fail(f, 400, "privateData must be an object")
		return
	}
	s.ensureConsumer(c.consumerID).profile = &b
	// The Connector API's CONVERSATION answers SetUserProfile with this
	// text; the socket's string response carries it.
	c.respond(f, 200, protocol.TypeStringResponse, "OK User Profile set successfully")
}

// checkSDEs checks a list of SDEs: each an object with a type. A
// consumer's own (fromConsumer) may only be ctmrinfo with info or personal
// with personal; a brand token's may be any type.
func checkSDEs(sdes []json.RawMessage, fromConsumer bool) error {
	for i, raw := range sdes {
		var sde map[string]json.RawMessage
		if err := json.Unmarshal(raw, &sde); err != nil || sde == nil {
			return fmt.Errorf("SDE %d is not an object", i)
		}
		var typ string
		if err := json.Unmarshal(sde["type"], &typ); err != nil || typ == "" {
			return fmt.Errorf("SDE %d has no type", i)
		}
		if !fromConsumer {
			continue
		}
		member := map[string]string{protocol.SDECustomerInfo: "info", protocol.SDEPersonal: "personal"}[typ]
		if member == "" {
			return fmt.Errorf("SDE %d: type %q, want %s or %s", i, typ, protocol.SDECustomerInfo, protocol.SDEPersonal)
		}
		if !isJSONObject(sde[member]) {
			return fmt.Errorf("SDE %d (%s) needs the object %q", i, typ, member)
		}
	}
	return nil
}

func isJSONObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// profileView is the consumer's profile as agents read it: the body of
// GetUserProfile, fields as node-agent-sdk's transformer of that response
// reads them (firstName, lastName, privateData, authenticatedData.lp_sdes,
// claims with iss and lp_sdes, acr). Everything is copied.
func (rec *consumerRec) profileView() protocol.UserProfile {
	p := protocol.UserProfile{PrivateData: map[string]string{}}
	if pr := rec.profile; pr != nil {
		p.FirstName, p.LastName = pr.FirstName, pr.LastName
		if ad := pr.AuthenticatedData; ad != nil {
			p.AuthenticatedData = &protocol.AuthenticatedData{LPSDEs: cloneRaw(ad.LPSDEs)}
		}
		// Only its text fields (mobileNum, mail): push notification
		// settings are the device's, not the agent's.
		var private map[string]any
		_ = json.Unmarshal(pr.PrivateData, &private)
		for k, v := range private {
			if s, ok := v.(string); ok && s != "" {
				p.PrivateData[k] = s
			}
		}
	}
	if b := rec.brand; b != nil {
		p.Claims = bytes.Clone(b.claims)
		// The one level LivePerson takes (Authentication Detailed API:
		// "we support the level loa1 only").
		p.ACR = "loa1"
	}
	if p.FirstName == "" && p.LastName == "" {
		p.FirstName, p.LastName = rec.name()
	}
	return p
}

// name is the consumer's name for agents [ours] when its profile names
// none: the personal SDE of its profile, else the brand token's given_name
// and family_name, personal SDE or name, else "Visitor" and the id's first
// 8 characters.
func (rec *consumerRec) name() (first, last string) {
	if pr := rec.profile; pr != nil && pr.AuthenticatedData != nil {
		if first, last, ok := personalName(pr.AuthenticatedData.LPSDEs); ok {
			return first, last
		}
	}
	if b := rec.brand; b != nil {
		var c struct {
			GivenName  string                         `json:"given_name"`
			FamilyName string                         `json:"family_name"`
			Name       string                         `json:"name"`
			LPSDEs     protocol.List[json.RawMessage] `json:"lp_sdes"`
		}
		_ = json.Unmarshal(b.claims, &c)
		if c.GivenName != "" || c.FamilyName != "" {
			return c.GivenName, c.FamilyName
		}
		if first, last, ok := personalName(c.LPSDEs); ok {
			return first, last
		}
		if c.Name != "" {
			// OpenID Connect's full name, as the tutorial's sample
			// token carries it: all of it is the first name.
			return c.Name, ""
		}
	}
	short := rec.id
	if len(short) > 8 {
		short = short[:8]
	}
	return "Visitor", short
}

// personalName finds a name in the first personal SDE that has one.
func personalName(sdes []json.RawMessage) (first, last string, ok bool) {
	for _, raw := range sdes {
		var sde struct {
			Type     string `json:"type"`
			Personal struct {
				First string `json:"firstname"`
				Last  string `json:"lastname"`
			} `json:"personal"`
		}
		if json.Unmarshal(raw, &sde) == nil && sde.Type == protocol.SDEPersonal &&
			(sde.Personal.First != "" || sde.Personal.Last != "") {
			return sde.Personal.First, sde.Personal.Last, true
		}
	}
	return "", "", false
}

func cloneRaw(in []json.RawMessage) protocol.List[json.RawMessage] {
	out := make(protocol.List[json.RawMessage], 0, len(in))
	for _, r := range in {
		out = append(out, slices.Clone(r))
	}
	return out
}
