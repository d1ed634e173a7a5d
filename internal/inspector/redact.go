package inspector

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
)

// redacted replaces a credential in what the inspector shows.
const redacted = "[redacted]"

// secretKeys are the JSON keys whose whole value is a credential, compared
// case-insensitively: InitConnection's jwt, an Authorization header, the
// IDP's authCode, and the usual names of tokens and passwords.
var secretKeys = map[string]bool{
	"jwt": true, "authorization": true, "authcode": true, "token": true,
	"accesstoken": true, "access_token": true, "refreshtoken": true, "refresh_token": true,
	"idtoken": true, "id_token": true, "bearer": true, "password": true, "csrf": true,
	"secret": true, "client_secret": true,
}

func secretKey(k string) bool { return secretKeys[strings.ToLower(k)] }

var (
	// jwtShaped matches a JWT (or JWE) anywhere in a text: its header is
	// base64url JSON, so it starts with "eyJ".
	jwtShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,4}`)
	// tokenShaped matches three long base64url parts joined by dots, the
	// shape of a signed token whatever its header (type names such as
	// .ams.ms.PublishEvent have short parts and stay).
	tokenShaped = regexp.MustCompile(`[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]{16,}){2}`)
	// schemeToken matches a credential after its scheme, as in an
	// Authorization header's value ("jwt <token>", "Bearer <token>").
	schemeToken = regexp.MustCompile(`(?i)\b(jwt|bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}`)
	// secretPair matches "key": "value" of a secret key in text that is
	// not JSON (a frame that could not be parsed).
	secretPair = regexp.MustCompile(`(?i)("(?:jwt|authorization|authcode|token|access_?token|refresh_?token|id_?token|bearer|password|csrf|secret|client_secret)"\s*:\s*)"(?:[^"\\]|\\.)*"`)
)

// redactText replaces every token-shaped run in s.
func redactText(s string) string {
	s = jwtShaped.ReplaceAllString(s, redacted)
	s = tokenShaped.ReplaceAllString(s, redacted)
	return schemeToken.ReplaceAllString(s, "${1}${2}"+redacted)
}

// Redact returns a frame as the inspector shows it: indented JSON, in the
// order the fields were sent, with credentials replaced by "[redacted]":
// the value of a secret key (jwt, Authorization, …) at any depth, and any
// token-shaped text in any string (a JWT pasted into a message). A frame
// that is not JSON is shown as text, redacted the same way.
func Redact(data []byte) string {
	var compact bytes.Buffer
	if err := copyRedacted(&compact, data); err == nil {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, compact.Bytes(), "", "  "); err == nil {
			return pretty.String()
		}
	}
	s := secretPair.ReplaceAllString(string(data), `${1}"`+redacted+`"`)
	return redactText(strings.ToValidUTF8(s, "\uFFFD"))
}

// copyRedacted writes data's one JSON value to out, compact, with
// credentials replaced.
func copyRedacted(out *bytes.Buffer, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := copyValue(dec, out, false); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the frame")
	}
	return nil
}

// copyValue copies the decoder's next value; every scalar below a secret
// key is replaced.
func copyValue(dec *json.Decoder, out *bytes.Buffer, secret bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		open, close := byte('{'), byte('}')
		if t == '[' {
			open, close = '[', ']'
		} else if t != '{' {
			return errors.New("unexpected delimiter")
		}
		out.WriteByte(open)
		for i := 0; dec.More(); i++ {
			if i > 0 {
				out.WriteByte(',')
			}
			inner := secret
			if open == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, ok := k.(string)
				if !ok {
					return errors.New("object key is not a string")
				}
				writeString(out, key)
				out.WriteByte(':')
				inner = secret || secretKey(key)
			}
			if err := copyValue(dec, out, inner); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
		out.WriteByte(close)
	case string:
		if secret {
			writeString(out, redacted)
		} else {
			writeString(out, redactText(t))
		}
	case json.Number:
		if secret {
			writeString(out, redacted)
		} else {
			out.WriteString(t.String())
		}
	case bool:
		if t {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case nil:
		out.WriteString("null")
	}
	return nil
}

// writeString writes s as a JSON string, without escaping <, > and & (the
// page escapes what it shows; QA reads the text as sent).
func writeString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	out.Truncate(out.Len() - 1) // Encode's newline
}
