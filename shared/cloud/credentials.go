package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/rs/zerolog"
)

// Environment variables read by FromEnv (the names the official SDKs and CLI use).
const (
	EnvAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	EnvAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	EnvSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
)

// Credentials is an AccessKey pair, with a SecurityToken and Expiration when it is an STS
// credential. Every way of printing or serialising it (fmt, JSON, zerolog, slog) redacts the
// secret and the token, so a Credentials value can sit in a log line by mistake without harm.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Expiration      time.Time // zero for long-lived keys and for FC credentials (FC renews them per invocation)
}

const redacted = "<redacted>"

// Validate says which field is missing.
func (c Credentials) Validate() error {
	switch {
	case c.AccessKeyID == "":
		return errors.New("credentials: AccessKeyID is empty")
	case c.AccessKeySecret == "":
		return errors.New("credentials: AccessKeySecret is empty")
	}
	return nil
}

// IsSTS reports whether the credential carries a security token.
func (c Credentials) IsSTS() bool { return c.SecurityToken != "" }

// ExpiresWithin reports whether the credential expires less than d after now. A credential
// without an Expiration never does.
func (c Credentials) ExpiresWithin(now time.Time, d time.Duration) bool {
	return !c.Expiration.IsZero() && !now.Add(d).Before(c.Expiration)
}

// maskedID keeps enough of the AccessKeyId to tell keys apart in logs: "LTAI…Xy9".
func maskedID(id string) string {
	if len(id) <= 8 {
		if id == "" {
			return ""
		}
		return "***"
	}
	return id[:4] + "***" + id[len(id)-3:]
}

func secretMark(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String never contains the secret or the token.
func (c Credentials) String() string {
	var b strings.Builder
	b.WriteString("Credentials{AccessKeyID: ")
	b.WriteString(maskedID(c.AccessKeyID))
	b.WriteString(", AccessKeySecret: ")
	b.WriteString(secretMark(c.AccessKeySecret))
	b.WriteString(", SecurityToken: ")
	b.WriteString(secretMark(c.SecurityToken))
	if !c.Expiration.IsZero() {
		b.WriteString(", Expiration: ")
		b.WriteString(c.Expiration.UTC().Format(time.RFC3339))
	}
	b.WriteString("}")
	return b.String()
}

// GoString redacts too, for %#v.
func (c Credentials) GoString() string { return "cloud." + c.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x) print the redacted form.
func (c Credentials) Format(f fmt.State, verb rune) {
	s := c.String()
	if verb == 'v' && f.Flag('#') {
		s = c.GoString()
	}
	_, _ = io.WriteString(f, s)
}

type credentialsJSON struct {
	AccessKeyID     string     `json:"accessKeyId,omitempty"`
	AccessKeySecret string     `json:"accessKeySecret,omitempty"`
	SecurityToken   string     `json:"securityToken,omitempty"`
	Expiration      *time.Time `json:"expiration,omitempty"`
}

// MarshalJSON writes the redacted form. There is deliberately no UnmarshalJSON: credentials
// are never persisted.
func (c Credentials) MarshalJSON() ([]byte, error) {
	out := credentialsJSON{
		AccessKeyID:     maskedID(c.AccessKeyID),
		AccessKeySecret: secretMark(c.AccessKeySecret),
		SecurityToken:   secretMark(c.SecurityToken),
	}
	if !c.Expiration.IsZero() {
		t := c.Expiration.UTC()
		out.Expiration = &t
	}
	return json.Marshal(out)
}

// MarshalZerologObject lets zerolog's Object() log the redacted form.
func (c Credentials) MarshalZerologObject(e *zerolog.Event) {
	e.Str("accessKeyId", maskedID(c.AccessKeyID)).
		Str("accessKeySecret", secretMark(c.AccessKeySecret)).
		Bool("sts", c.IsSTS())
	if !c.Expiration.IsZero() {
		e.Time("expiration", c.Expiration)
	}
}

// LogValue lets log/slog log the redacted form.
func (c Credentials) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("accessKeyId", maskedID(c.AccessKeyID)),
		slog.String("accessKeySecret", secretMark(c.AccessKeySecret)),
		slog.Bool("sts", c.IsSTS()),
	}
	if !c.Expiration.IsZero() {
		attrs = append(attrs, slog.Time("expiration", c.Expiration))
	}
	return slog.GroupValue(attrs...)
}

// FromFC reads the function role's STS credentials that Function Compute puts in the
// invocation context (fccontext). They have no expiration: FC hands fresh ones to each invocation.
func FromFC(ctx context.Context) (Credentials, error) {
	fc, ok := fccontext.FromContext(ctx)
	if !ok || fc == nil {
		return Credentials{}, errors.New("credentials: no Function Compute context (fccontext) in ctx")
	}
	c := Credentials{
		AccessKeyID:     fc.Credentials.AccessKeyId,
		AccessKeySecret: fc.Credentials.AccessKeySecret,
		SecurityToken:   fc.Credentials.SecurityToken,
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, fmt.Errorf("fccontext: %w (does the function have a role?)", err)
	}
	return c, nil
}

// FromEnv reads ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and the optional
// ALIBABA_CLOUD_SECURITY_TOKEN.
func FromEnv() (Credentials, error) {
	c := Credentials{
		AccessKeyID:     strings.TrimSpace(os.Getenv(EnvAccessKeyID)),
		AccessKeySecret: strings.TrimSpace(os.Getenv(EnvAccessKeySecret)),
		SecurityToken:   strings.TrimSpace(os.Getenv(EnvSecurityToken)),
	}
	switch {
	case c.AccessKeyID == "":
		return Credentials{}, fmt.Errorf("credentials: environment variable %s is not set", EnvAccessKeyID)
	case c.AccessKeySecret == "":
		return Credentials{}, fmt.Errorf("credentials: environment variable %s is not set", EnvAccessKeySecret)
	}
	return c, nil
}
