package protocol

import "encoding/json"

// Paths and version of the IDP's unauthenticated-connector flow
// (Unauthenticated Messaging): anonymous/authorize issues or refreshes the
// external id_token, app/{connector}/authenticate exchanges it for the
// socket's token.
const (
	PathAnonymousAuthorize    = "/api/account/%s/anonymous/authorize"
	PathConnectorAuthenticate = "/api/account/%s/app/%s/authenticate"

	ConnectorVersion = "3.0"

	TypeSetUserProfile = "userprofile.SetUserProfile"
)

// IDTokenRequest is the body of anonymous/authorize (empty for a new
// identity; the previous id_token to refresh it) and of the connector's
// authenticate.
type IDTokenRequest struct {
	IDToken string `json:"id_token,omitempty"`
}

// TokenResponse is the answer of anonymous/authorize (the external
// id_token) and of the connector's authenticate (the socket's token).
type TokenResponse struct {
	Token string `json:"token"`
}

// LPExt is the lp.ext claim of a consumer token that LivePerson's IDP made
// from a brand's identity token (Authentication tutorial, Step 2): the
// brand token's sub and iss, and lp_sdes, an opaque string standing for
// the customer details the brand token carried.
type LPExt struct {
	Sub    string `json:"sub"`
	Iss    string `json:"iss"`
	LPSDEs string `json:"lp_sdes,omitempty"`
}

// SetUserProfile is the body of userprofile.SetUserProfile: the consumer
// describes itself; authenticatedData.lp_sdes carries engagement
// attributes (SDEs) of type ctmrinfo or personal for the agent to see
// (schema connectorapi/setUserProfile.json; Connector API, CONVERSATION).
type SetUserProfile struct {
	FirstName         string             `json:"firstName,omitempty"`
	LastName          string             `json:"lastName,omitempty"`
	UserID            string             `json:"userId,omitempty"`
	AvatarURL         string             `json:"avatarUrl,omitempty"`
	Role              string             `json:"role,omitempty"`
	BackgndImgURI     string             `json:"backgndImgUri,omitempty"`
	Description       string             `json:"description,omitempty"`
	AuthenticatedData *AuthenticatedData `json:"authenticatedData,omitempty"`
	PrivateData       json.RawMessage    `json:"privateData,omitempty"`
}

// AuthenticatedData holds a consumer's engagement attributes, each an
// object with a "type" (e.g. {"type":"personal","personal":{"firstname":…}}),
// kept as sent.
type AuthenticatedData struct {
	LPSDEs List[json.RawMessage] `json:"lp_sdes,omitempty"`
}

// SDE types a consumer may send (Connector API, CONVERSATION: "The SDEs
// supported for sending are the Customer Info and Personal Info SDEs").
const (
	SDECustomerInfo = "ctmrinfo"
	SDEPersonal     = "personal"
)
