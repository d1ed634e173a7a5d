package inspector_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/inspector"
)

// A JWT as the IDP issues them (header, claims, signature) and a token of
// the same shape without the JSON header.
const (
	jwt      = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjMiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
	opaque   = "QWxhZGRpbjpvcGVuc2VzYW1l.b3BlbnNlc2FtZW9wZW5zZXNhbWU.c2lnbmF0dXJlc2lnbmF0dXJl"
	bearerID = "AbCdEf0123456789"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "InitConnection's jwt header",
			in:   `{"kind":"req","id":"0","type":"InitConnection","headers":[{"type":".ams.headers.ClientProperties","deviceFamily":"DESKTOP"},{"type":".ams.headers.ConsumerAuthentication","jwt":"` + jwt + `"}]}`,
			want: `{
  "kind": "req",
  "id": "0",
  "type": "InitConnection",
  "headers": [
    {
      "type": ".ams.headers.ClientProperties",
      "deviceFamily": "DESKTOP"
    },
    {
      "type": ".ams.headers.ConsumerAuthentication",
      "jwt": "[redacted]"
    }
  ]
}`,
		},
		{
			name: "Authorization header, any case, any value",
			in:   `{"headers":{"AUTHORIZATION":"jwt short","authorization":{"scheme":"jwt","value":"x","n":42}}}`,
			want: `{
  "headers": {
    "AUTHORIZATION": "[redacted]",
    "authorization": {
      "scheme": "[redacted]",
      "value": "[redacted]",
      "n": "[redacted]"
    }
  }
}`,
		},
		{
			name: "a JWT pasted into a message body",
			in:   `{"kind":"req","id":5,"type":"ms.PublishEvent","body":{"dialogId":"C1","event":{"type":"ContentEvent","message":"my token is ` + jwt + `, see?"}}}`,
			want: `{
  "kind": "req",
  "id": 5,
  "type": "ms.PublishEvent",
  "body": {
    "dialogId": "C1",
    "event": {
      "type": "ContentEvent",
      "message": "my token is [redacted], see?"
    }
  }
}`,
		},
		{
			name: "token-shaped strings nested in arrays, and a bearer credential",
			in:   `{"body":{"changes":[{"result":{"notes":["` + opaque + `","Bearer ` + bearerID + `"]}}]}}`,
			want: `{
  "body": {
    "changes": [
      {
        "result": {
          "notes": [
            "[redacted]",
            "Bearer [redacted]"
          ]
        }
      }
    ]
  }
}`,
		},
		{
			name: "other keys of the usual names",
			in:   `{"authCode":"abc","bearer":"b","csrf":"c","password":"p","accessToken":"t"}`,
			want: `{
  "authCode": "[redacted]",
  "bearer": "[redacted]",
  "csrf": "[redacted]",
  "password": "[redacted]",
  "accessToken": "[redacted]"
}`,
		},
		{
			name: "type names, ids, hosts, numbers and markup stay as sent",
			in:   `{"kind":"resp","reqId":"7","code":200,"type":".ams.ms.PublishEvent","body":{"sequence":1477840967209,"host":"va.msg.liveperson.net","id":"0f8c2a4e-6b1d-4c3e-9a7f-2d5e8b1c3a9f","text":"<b>&</b>","ok":true,"none":null}}`,
			want: `{
  "kind": "resp",
  "reqId": "7",
  "code": 200,
  "type": ".ams.ms.PublishEvent",
  "body": {
    "sequence": 1477840967209,
    "host": "va.msg.liveperson.net",
    "id": "0f8c2a4e-6b1d-4c3e-9a7f-2d5e8b1c3a9f",
    "text": "<b>&</b>",
    "ok": true,
    "none": null
  }
}`,
		},
		{
			name: "a broken frame is shown as text, redacted",
			in:   `{"kind":"req","headers":[{"jwt":"short-secret"}],"x":"` + jwt,
			want: `{"kind":"req","headers":[{"jwt":"[redacted]"}],"x":"[redacted]`,
		},
		{
			name: "trailing data makes it text",
			in:   `{"jwt":"s"} {"a":"` + opaque + `"}`,
			want: `{"jwt":"[redacted]"} {"a":"[redacted]"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inspector.Redact([]byte(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Redact (-want +got):\n%s", diff)
			}
			for _, secret := range []string{jwt, opaque, bearerID, "short-secret"} {
				if strings.Contains(got, secret) {
					t.Errorf("Redact left %q in %s", secret, got)
				}
			}
		})
	}
}
