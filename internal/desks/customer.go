package desks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Customer is what the console's Customer panel shows of a conversation's
// consumer (docs/console.md, Customer), read from its GetUserProfile: what
// LivePerson's Agent Workspace shows in its consumer, Customer Info and
// Personal Info widgets. Every text is the customer's or the brand's,
// without direction controls or other control characters, and bounded.
type Customer struct {
	// Authenticated: the brand's identity provider vouched for the
	// customer (the profile carries the brand token's claims or its
	// authentication level).
	Authenticated bool
	// Level is the authentication level (acr; LivePerson takes loa1 only).
	Level string
	// ID and Issuer are the brand token's sub (the brand's id of its
	// customer) and iss.
	ID, Issuer string
	// Sections are the engagement attributes (SDEs), Customer Info first
	// then Personal Info, the brand's before the customer's own; a section
	// without a field is left out.
	Sections []CustomerSection
}

// Where a section's attributes come from.
const (
	// SourceBrand: the brand's identity token (its claims' lp_sdes),
	// signed by the brand.
	SourceBrand = "brand"
	// SourceCustomer: what the customer's own client sent
	// (SetUserProfile's authenticatedData.lp_sdes and privateData):
	// nobody vouched for it.
	SourceCustomer = "customer"
)

// CustomerSection is one kind of engagement attribute from one source.
type CustomerSection struct {
	// Type is protocol.SDECustomerInfo or protocol.SDEPersonal.
	Type   string
	Source string
	Fields []CustomerField
}

// CustomerField is one attribute the panel shows.
type CustomerField struct {
	// Name is the attribute's name in LivePerson's SDE ("ctype",
	// "lastPaymentDate", "contacts.email").
	Name  string
	Label string
	// Text is the value as the agent reads it; empty for a date.
	Text string
	// Date is set for dates (Month and Day may be 0 when not given).
	Date Date
}

// Date is a calendar date as the SDEs write them: {day, month, year}.
type Date struct{ Year, Month, Day int }

// IsZero reports whether d is no date.
func (d Date) IsZero() bool { return d.Year == 0 }

// ISO is d as HTML's datetime attribute writes it: 2014-10-15, 1980-04 or
// 1980.
func (d Date) ISO() string {
	switch {
	case d.IsZero():
		return ""
	case d.Month == 0:
		return fmt.Sprintf("%04d", d.Year)
	case d.Day == 0:
		return fmt.Sprintf("%04d-%02d", d.Year, d.Month)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// Bounds of what one profile may put in the panel: a brand or a customer
// sending more is cut, not refused.
const (
	maxSDEs     = 20  // SDEs read per source
	maxContacts = 5   // contacts read per personal SDE
	maxText     = 200 // runes of one value ("…" ends a longer one)
)

// CustomerFrom reads a consumer's profile (the body of GetUserProfile) as
// the panel shows it. Unknown SDE types and attributes, values of the
// wrong kind and dates that are not dates are left out; nothing fails.
func CustomerFrom(p protocol.UserProfile) Customer {
	var c Customer
	var claims map[string]json.RawMessage
	var brandSDEs protocol.List[json.RawMessage]
	if json.Unmarshal(p.Claims, &claims) == nil && len(claims) > 0 {
		c.ID, _ = scalar(claims["sub"])
		c.Issuer, _ = scalar(claims["iss"])
		_ = json.Unmarshal(claims["lp_sdes"], &brandSDEs) // not a list: no SDEs
	}
	c.Level = clean(p.ACR)
	c.Authenticated = c.Level != "" || len(claims) > 0

	brand := readSDEs(brandSDEs)
	var own [2][]CustomerField
	if p.AuthenticatedData != nil {
		own = readSDEs(p.AuthenticatedData.LPSDEs)
	}
	own[1] = append(own[1], privateContacts(p.PrivateData)...)
	for i, typ := range []string{protocol.SDECustomerInfo, protocol.SDEPersonal} {
		if len(brand[i]) > 0 {
			c.Sections = append(c.Sections, CustomerSection{Type: typ, Source: SourceBrand, Fields: brand[i]})
		}
		if len(own[i]) > 0 {
			c.Sections = append(c.Sections, CustomerSection{Type: typ, Source: SourceCustomer, Fields: own[i]})
		}
	}
	return c
}

// readSDEs reads the Customer Info ([0]) and Personal Info ([1]) fields of
// a list of SDEs (Engagement Attributes; schemas customerInfo.json and
// personalInfo.json). Several SDEs of one type add up; a field already
// read with the same text is not repeated.
func readSDEs(sdes []json.RawMessage) (out [2][]CustomerField) {
	if len(sdes) > maxSDEs {
		sdes = sdes[:maxSDEs]
	}
	for _, raw := range sdes {
		var sde struct {
			Type     string                     `json:"type"`
			Info     map[string]json.RawMessage `json:"info"`
			Personal map[string]json.RawMessage `json:"personal"`
		}
		if json.Unmarshal(raw, &sde) != nil {
			continue
		}
		switch sde.Type {
		case protocol.SDECustomerInfo:
			out[0] = addFields(out[0], customerInfo(sde.Info))
		case protocol.SDEPersonal:
			out[1] = addFields(out[1], personalInfo(sde.Personal))
		}
	}
	return out
}

func addFields(to, fields []CustomerField) []CustomerField {
	for _, f := range fields {
		dup := false
		for _, g := range to {
			dup = dup || g == f
		}
		if !dup {
			to = append(to, f)
		}
	}
	return to
}

// customerInfo reads a ctmrinfo SDE's info in the order of LivePerson's
// Engagement Attributes page (Customer Info). The balance goes with its
// currency.
func customerInfo(info map[string]json.RawMessage) []CustomerField {
	var out []CustomerField
	text := func(name, label string) {
		if s, ok := scalar(info[name]); ok {
			out = append(out, CustomerField{Name: name, Label: label, Text: s})
		}
	}
	date := func(name, label string) {
		if d, ok := fullDate(info[name]); ok {
			out = append(out, CustomerField{Name: name, Label: label, Date: d})
		}
	}
	text("ctype", "Customer type")
	text("cstatus", "Status")
	balance, hasBalance := scalar(info["balance"])
	currency, hasCurrency := scalar(info["currency"])
	switch {
	case hasBalance && hasCurrency:
		out = append(out, CustomerField{Name: "balance", Label: "Balance", Text: balance + " " + currency})
	case hasBalance:
		out = append(out, CustomerField{Name: "balance", Label: "Balance", Text: balance})
	case hasCurrency:
		out = append(out, CustomerField{Name: "currency", Label: "Currency", Text: currency})
	}
	text("customerId", "Customer ID")
	text("socialId", "Social ID")
	text("imei", "IMEI")
	text("userName", "User name")
	text("companySize", "Company size")
	text("companyBranch", "Company branch")
	text("accountName", "Account name")
	text("role", "Role")
	date("lastPaymentDate", "Last payment")
	date("registrationDate", "Registered")
	text("loginStatus", "Login status")
	text("storeZipCode", "Store ZIP code")
	text("storeNumber", "Store number")
	return out
}

// personalInfo reads a personal SDE's personal object in the order of
// LivePerson's Engagement Attributes page (Personal Info).
func personalInfo(p map[string]json.RawMessage) []CustomerField {
	var out []CustomerField
	text := func(name, label string) {
		if s, ok := scalar(p[name]); ok {
			out = append(out, CustomerField{Name: name, Label: label, Text: s})
		}
	}
	text("firstname", "First name")
	text("lastname", "Last name")
	var age map[string]json.RawMessage
	if json.Unmarshal(p["age"], &age) == nil {
		if s, ok := scalar(age["age"]); ok {
			out = append(out, CustomerField{Name: "age", Label: "Age", Text: s})
		}
		if d, ok := birthDate(age); ok {
			out = append(out, CustomerField{Name: "age.birth", Label: "Born", Date: d})
		}
	}
	if g, ok := gender(p["gender"]); ok {
		out = append(out, CustomerField{Name: "gender", Label: "Gender", Text: g})
	}
	var contacts protocol.List[map[string]json.RawMessage]
	if json.Unmarshal(p["contacts"], &contacts) == nil {
		if len(contacts) > maxContacts {
			contacts = contacts[:maxContacts]
		}
		for _, ct := range contacts {
			out = append(out, contactFields(ct)...)
		}
	}
	text("language", "Language")
	text("company", "Company")
	return out
}

// contactFields reads one contact: email, phone with its type, and the
// country and region of its address (the page lists them both in an
// address object and on the contact itself: either is read).
func contactFields(ct map[string]json.RawMessage) []CustomerField {
	var out []CustomerField
	if s, ok := scalar(ct["email"]); ok {
		out = append(out, CustomerField{Name: "contacts.email", Label: "Email", Text: s})
	}
	if s, ok := scalar(ct["phone"]); ok {
		if kind, ok := scalar(ct["phoneType"]); ok {
			s += " (" + strings.ToLower(strings.ReplaceAll(kind, "_", " ")) + ")"
		}
		out = append(out, CustomerField{Name: "contacts.phone", Label: "Phone", Text: s})
	}
	var addr map[string]json.RawMessage
	_ = json.Unmarshal(ct["address"], &addr)
	for _, k := range []struct{ name, label string }{{"country", "Country"}, {"region", "Region"}} {
		s, ok := scalar(addr[k.name])
		if !ok {
			s, ok = scalar(ct[k.name])
		}
		if ok {
			out = append(out, CustomerField{Name: "contacts." + k.name, Label: k.label, Text: s})
		}
	}
	return out
}

// privateContacts are the phone and email of SetUserProfile's privateData
// (schema connectorapi/setUserProfile.json: mobileNum, mail), which
// node-agent-sdk's reading of GetUserProfile shows as a personal contact
// (it reads the email as "email").
func privateContacts(private map[string]string) []CustomerField {
	var out []CustomerField
	for _, k := range []struct{ key, name, label string }{
		{"mail", "contacts.email", "Email"}, {"email", "contacts.email", "Email"}, {"mobileNum", "contacts.phone", "Phone"},
	} {
		if s := clean(private[k.key]); s != "" {
			out = addFields(out, []CustomerField{{Name: k.name, Label: k.label, Text: s}})
		}
	}
	return out
}

// gender reads the personal SDE's gender: MALE, FEMALE or OTHER (schema
// personalInfo.json), or 0, 1, 2 (the Engagement Attributes page's table
// calls it an integer).
func gender(raw json.RawMessage) (string, bool) {
	s, ok := scalar(raw)
	if !ok {
		return "", false
	}
	switch strings.ToUpper(s) {
	case "MALE", "0":
		return "Male", true
	case "FEMALE", "1":
		return "Female", true
	case "OTHER", "2":
		return "Other", true
	}
	return s, true
}

// fullDate reads a {day, month, year} date whose three parts are given
// (schema customerInfo.json: all required).
func fullDate(raw json.RawMessage) (Date, bool) {
	var d struct{ Day, Month, Year *int }
	if json.Unmarshal(raw, &d) != nil || d.Day == nil || d.Month == nil || d.Year == nil {
		return Date{}, false
	}
	return validDate(Date{Year: *d.Year, Month: *d.Month, Day: *d.Day})
}

// birthDate reads the age object's year, month and day: the year alone
// may be given, or the year and month.
func birthDate(age map[string]json.RawMessage) (Date, bool) {
	var d Date
	if json.Unmarshal(age["year"], &d.Year) != nil {
		return Date{}, false
	}
	if json.Unmarshal(age["month"], &d.Month) == nil {
		_ = json.Unmarshal(age["day"], &d.Day)
	}
	return validDate(d)
}

// validDate keeps a date that exists in the calendar (the day only with
// its month).
func validDate(d Date) (Date, bool) {
	if d.Year < 1 || d.Year > 9999 || d.Month < 0 || d.Month > 12 || d.Day < 0 || d.Day > 31 || (d.Month == 0 && d.Day != 0) {
		return Date{}, false
	}
	if d.Day > 0 {
		t := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
		if t.Day() != d.Day {
			return Date{}, false // 31 April and the like
		}
	}
	return d, true
}

// scalar is a JSON string or number as text (a number as it was written);
// anything else, or an empty text, is no value.
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	var s string
	switch {
	case raw[0] == '"':
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		s = clean(s)
	default:
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		s = clean(n.String())
	}
	return s, s != ""
}

// clean is a value as the panel shows it: no direction controls (as the
// customer's name, internal/bidi), control characters as spaces, no
// leading or trailing space, at most maxText runes.
func clean(s string) string {
	s = bidi.Strip(s)
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if utf8.RuneCountInString(s) > maxText {
		s = string([]rune(s)[:maxText-1]) + "…"
	}
	return s
}
