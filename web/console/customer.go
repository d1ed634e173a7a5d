package console

import (
	"time"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/views"
)

// customerPanel maps the customer's details for the Customer panel
// (docs/console.md, Customer).
func customerPanel(state desks.ProfileState, c desks.Customer) views.CustomerPanel {
	switch state {
	case desks.ProfileLoaded:
	case desks.ProfileFailed:
		return views.CustomerPanel{State: "failed"}
	default:
		return views.CustomerPanel{State: "loading"}
	}
	p := views.CustomerPanel{State: "loaded", Authenticated: c.Authenticated, Level: c.Level, ID: c.ID, Issuer: c.Issuer}
	for _, s := range c.Sections {
		vs := views.CustomerSection{Type: s.Type, Source: s.Source, Title: "Customer info"}
		if s.Type == protocol.SDEPersonal {
			vs.Title = "Personal info"
		}
		vs.SourceNote = "(given by the customer, not verified)"
		if s.Source == desks.SourceBrand {
			vs.SourceNote = "(verified by the brand)"
		}
		for _, f := range s.Fields {
			vf := views.CustomerField{Name: f.Name, Label: f.Label, Text: f.Text}
			if !f.Date.IsZero() {
				vf.Text, vf.ISO = dateText(f.Date), f.Date.ISO()
			}
			vs.Fields = append(vs.Fields, vf)
		}
		p.Sections = append(p.Sections, vs)
	}
	return p
}

// dateText writes a date day first with the month's name ("15 Oct 2014",
// "Apr 1980", "1980"): no reader mistakes it for another.
func dateText(d desks.Date) string {
	t := time.Date(d.Year, time.Month(max(d.Month, 1)), max(d.Day, 1), 0, 0, 0, 0, time.UTC)
	switch {
	case d.Month == 0:
		return t.Format("2006")
	case d.Day == 0:
		return t.Format("Jan 2006")
	}
	return t.Format("2 Jan 2006")
}
