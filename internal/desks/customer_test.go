package desks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// sdes is a list of SDEs written as JSON.
func sdes(t *testing.T, list ...string) *protocol.AuthenticatedData {
	t.Helper()
	ad := &protocol.AuthenticatedData{}
	for _, s := range list {
		if !json.Valid([]byte(s)) {
			t.Fatalf("not JSON: %s", s)
		}
		ad.LPSDEs = append(ad.LPSDEs, json.RawMessage(s))
	}
	return ad
}

// The SDE examples of LivePerson's Engagement Attributes page (Customer
// info, Personal info), with the fields its table adds (companyBranch,
// loginStatus, phoneType, address).
const (
	docCustomerInfo = `{"type":"ctmrinfo","info":{"cstatus":"cancelled","ctype":"vip","customerId":"138766AC","balance":-400.99,"currency":"USD",
		"socialId":"11256324780","imei":"3543546543545688","userName":"user000","companySize":500,"companyBranch":"East village",
		"accountName":"bank corp","role":"broker","lastPaymentDate":{"day":15,"month":10,"year":2014},
		"registrationDate":{"day":23,"month":5,"year":2013},"loginStatus":1,"storeNumber":"123865","storeZipCode":"20505"}}`
	docPersonalInfo = `{"type":"personal","personal":{"firstname":"John","lastname":"Doe","age":{"age":34,"year":1980,"month":4,"day":15},
		"contacts":[{"email":"myname@example.com","phone":"+1 212-788-8877","phoneType":"MOBILE","address":{"country":"US","region":"North America"}}],
		"gender":"MALE","language":"en-US","company":"company"}}`
)

func TestCustomerFrom(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name string
		in   protocol.UserProfile
		want desks.Customer
	}{
		{"nothing", protocol.UserProfile{FirstName: "Visitor", LastName: "1234abcd"}, desks.Customer{}},
		{
			"the tutorial's sample token, no SDEs",
			protocol.UserProfile{
				Claims: json.RawMessage(`{"sub":"+972-3-5555-555","iss":"https://idp.liveperson.net","aud":"acc:qa57221676","exp":1934971930,"iat":1521605592,"name":"Eitan"}`),
				ACR:    "loa1",
			},
			desks.Customer{Authenticated: true, Level: "loa1", ID: "+972-3-5555-555", Issuer: "https://idp.liveperson.net"},
		},
		{
			"every documented field, from the customer",
			protocol.UserProfile{AuthenticatedData: sdes(t, docCustomerInfo, docPersonalInfo)},
			desks.Customer{Sections: []desks.CustomerSection{
				{Type: "ctmrinfo", Source: desks.SourceCustomer, Fields: []desks.CustomerField{
					{Name: "ctype", Label: "Customer type", Text: "vip"},
					{Name: "cstatus", Label: "Status", Text: "cancelled"},
					{Name: "balance", Label: "Balance", Text: "-400.99 USD"},
					{Name: "customerId", Label: "Customer ID", Text: "138766AC"},
					{Name: "socialId", Label: "Social ID", Text: "11256324780"},
					{Name: "imei", Label: "IMEI", Text: "3543546543545688"},
					{Name: "userName", Label: "User name", Text: "user000"},
					{Name: "companySize", Label: "Company size", Text: "500"},
					{Name: "companyBranch", Label: "Company branch", Text: "East village"},
					{Name: "accountName", Label: "Account name", Text: "bank corp"},
					{Name: "role", Label: "Role", Text: "broker"},
					{Name: "lastPaymentDate", Label: "Last payment", Date: desks.Date{Year: 2014, Month: 10, Day: 15}},
					{Name: "registrationDate", Label: "Registered", Date: desks.Date{Year: 2013, Month: 5, Day: 23}},
					{Name: "loginStatus", Label: "Login status", Text: "1"},
					{Name: "storeZipCode", Label: "Store ZIP code", Text: "20505"},
					{Name: "storeNumber", Label: "Store number", Text: "123865"},
				}},
				{Type: "personal", Source: desks.SourceCustomer, Fields: []desks.CustomerField{
					{Name: "firstname", Label: "First name", Text: "John"},
					{Name: "lastname", Label: "Last name", Text: "Doe"},
					{Name: "age", Label: "Age", Text: "34"},
					{Name: "age.birth", Label: "Born", Date: desks.Date{Year: 1980, Month: 4, Day: 15}},
					{Name: "gender", Label: "Gender", Text: "Male"},
					{Name: "contacts.email", Label: "Email", Text: "myname@example.com"},
					{Name: "contacts.phone", Label: "Phone", Text: "+1 212-788-8877 (mobile)"},
					{Name: "contacts.country", Label: "Country", Text: "US"},
					{Name: "contacts.region", Label: "Region", Text: "North America"},
					{Name: "language", Label: "Language", Text: "en-US"},
					{Name: "company", Label: "Company", Text: "company"},
				}},
			}},
		},
		{
			"the brand's SDEs before the customer's, a single SDE as the element itself, privateData as contacts",
			protocol.UserProfile{
				Claims:            json.RawMessage(`{"sub":"u-1","iss":"https://brand.example","lp_sdes":{"type":"ctmrinfo","info":{"ctype":"gold","customerId":"C-9"}}}`),
				AuthenticatedData: sdes(t, `{"type":"ctmrinfo","info":{"ctype":"platinum"}}`, `{"type":"personal","personal":{"firstname":"Jo"}}`),
				PrivateData:       map[string]string{"mail": "jo@example.com", "mobileNum": "+15550100"},
			},
			desks.Customer{Authenticated: true, ID: "u-1", Issuer: "https://brand.example", Sections: []desks.CustomerSection{
				{Type: "ctmrinfo", Source: desks.SourceBrand, Fields: []desks.CustomerField{
					{Name: "ctype", Label: "Customer type", Text: "gold"},
					{Name: "customerId", Label: "Customer ID", Text: "C-9"},
				}},
				{Type: "ctmrinfo", Source: desks.SourceCustomer, Fields: []desks.CustomerField{{Name: "ctype", Label: "Customer type", Text: "platinum"}}},
				{Type: "personal", Source: desks.SourceCustomer, Fields: []desks.CustomerField{
					{Name: "firstname", Label: "First name", Text: "Jo"},
					{Name: "contacts.email", Label: "Email", Text: "jo@example.com"},
					{Name: "contacts.phone", Label: "Phone", Text: "+15550100"},
				}},
			}},
		},
		{
			"absent, empty and wrongly typed fields are left out",
			protocol.UserProfile{AuthenticatedData: sdes(t,
				`{"type":"ctmrinfo","info":{"ctype":"","cstatus":null,"customerId":{"id":1},"balance":true,"currency":"EUR","role":["a"],
					"lastPaymentDate":{"day":15,"month":10},"registrationDate":{"day":31,"month":4,"year":2013},"loginStatus":"  "}}`,
				`{"type":"personal","personal":{"firstname":"   ","age":{"year":1980},"gender":2,"contacts":{"phone":"555"}}}`,
				`{"type":"personal","personal":{"age":{"month":4,"day":15}}}`,
				`{"type":"personal","personal":"not an object"}`,
				`{"type":"cart","total":11.7}`,
				`["not","an","sde"]`,
			)},
			desks.Customer{Sections: []desks.CustomerSection{
				{Type: "ctmrinfo", Source: desks.SourceCustomer, Fields: []desks.CustomerField{{Name: "currency", Label: "Currency", Text: "EUR"}}},
				{Type: "personal", Source: desks.SourceCustomer, Fields: []desks.CustomerField{
					{Name: "age.birth", Label: "Born", Date: desks.Date{Year: 1980}},
					{Name: "gender", Label: "Gender", Text: "Other"},
					{Name: "contacts.phone", Label: "Phone", Text: "555"},
				}},
			}},
		},
		{
			"the same SDE twice shows once; a second one adds what differs",
			protocol.UserProfile{AuthenticatedData: sdes(t,
				`{"type":"ctmrinfo","info":{"ctype":"vip"}}`, `{"type":"ctmrinfo","info":{"ctype":"vip","role":"broker"}}`)},
			desks.Customer{Sections: []desks.CustomerSection{{Type: "ctmrinfo", Source: desks.SourceCustomer, Fields: []desks.CustomerField{
				{Name: "ctype", Label: "Customer type", Text: "vip"},
				{Name: "role", Label: "Role", Text: "broker"},
			}}}},
		},
		{
			"hostile text: direction controls and control characters go, long text is cut, markup stays text",
			protocol.UserProfile{
				Claims:            json.RawMessage(`{"sub":"pay\u202egnp.exe","iss":"<script>alert(1)</script>","lp_sdes":"not a list"}`),
				ACR:               "loa1\u2066",
				AuthenticatedData: sdes(t, `{"type":"ctmrinfo","info":{"userName":"a\u0000b\nc\u2067d\u2069","role":"`+long+`","accountName":"<img src=x onerror=alert(1)>"}}`),
			},
			desks.Customer{Authenticated: true, Level: "loa1", ID: "paygnp.exe", Issuer: "<script>alert(1)</script>", Sections: []desks.CustomerSection{
				{Type: "ctmrinfo", Source: desks.SourceCustomer, Fields: []desks.CustomerField{
					{Name: "userName", Label: "User name", Text: "a b cd"},
					{Name: "accountName", Label: "Account name", Text: "<img src=x onerror=alert(1)>"},
					{Name: "role", Label: "Role", Text: strings.Repeat("x", 199) + "…"},
				}},
			}},
		},
		{
			"claims that are not an object: not authenticated",
			protocol.UserProfile{Claims: json.RawMessage(`"sub"`)},
			desks.Customer{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, desks.CustomerFrom(tt.in)); diff != "" {
				t.Errorf("CustomerFrom (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDateISO(t *testing.T) {
	for _, tt := range []struct {
		in   desks.Date
		want string
	}{
		{desks.Date{}, ""},
		{desks.Date{Year: 1980}, "1980"},
		{desks.Date{Year: 1980, Month: 4}, "1980-04"},
		{desks.Date{Year: 2014, Month: 10, Day: 5}, "2014-10-05"},
	} {
		if got := tt.in.ISO(); got != tt.want {
			t.Errorf("%+v.ISO() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
