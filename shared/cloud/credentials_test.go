package cloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

const (
	secret = "Sup3rS3cretKeyMaterial0000000000"
	token  = "CAIStokenMaterialThatMustNeverLeak=="
)

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	c := cloud.Credentials{AccessKeyID: "STS.NUgYrLnoC37mZZCNnAbez2", AccessKeySecret: secret, SecurityToken: token,
		Expiration: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	holder := struct {
		Name  string
		Creds cloud.Credentials
		Ptr   *cloud.Credentials
	}{"x", c, &c}

	var zl bytes.Buffer
	zlog := zerolog.New(&zl)
	zlog.Info().Object("creds", c).Interface("iface", c).Any("any", holder).Msg("m")
	var sl bytes.Buffer
	slog.New(slog.NewJSONHandler(&sl, nil)).Info("m", "creds", c, "holder", holder)
	var sltext bytes.Buffer
	slog.New(slog.NewTextHandler(&sltext, nil)).Info("m", "creds", c)
	js, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cloud.NewSession(c, mustEndpoints(t, "cn-hangzhou"))
	if err != nil {
		t.Fatal(err)
	}

	outputs := map[string]string{
		"%v":          fmt.Sprintf("%v", c),
		"%+v":         fmt.Sprintf("%+v", c),
		"%#v":         fmt.Sprintf("%#v", c),
		"%s":          fmt.Sprintf("%s", c),
		"%q":          fmt.Sprintf("%q", c),
		"%x":          fmt.Sprintf("%x", c),
		"pointer %+v": fmt.Sprintf("%+v", &c),
		"nested %+v":  fmt.Sprintf("%+v", holder),
		"nested %#v":  fmt.Sprintf("%#v", holder),
		"String":      c.String(),
		"json":        string(js),
		"zerolog":     zl.String(),
		"slog json":   sl.String(),
		"slog text":   sltext.String(),
		"session %v":  fmt.Sprintf("%v", s),
		"session %+v": fmt.Sprintf("%+v", s),
		"session %#v": fmt.Sprintf("%#v", s),
	}
	for name, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(out, token) || strings.Contains(out, "NUgYrLnoC37mZZCNnAbez2") {
			t.Errorf("%s leaks: %s", name, out)
		}
		if !strings.Contains(out, "STS.***ez2") {
			t.Errorf("%s does not show the masked key id: %s", name, out)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	creds := back["Creds"].(map[string]any)
	if creds["accessKeySecret"] != "<redacted>" || creds["securityToken"] != "<redacted>" || creds["expiration"] != "2030-01-02T03:04:05Z" {
		t.Errorf("json form = %v", creds)
	}
	// The value itself is untouched: clients still get the real secret.
	if c.AccessKeySecret != secret || s.Credentials().SecurityToken != token {
		t.Fatal("redaction changed the credential")
	}
}

func mustEndpoints(t *testing.T, region string) cloud.Endpoints {
	t.Helper()
	ep, err := cloud.EndpointsForRegion(region)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name, id, secret, token string
		wantErr                 string
	}{
		{"long-lived key", "LTAI5tExample", "sec", "", ""},
		{"sts key", "STS.example", "sec", "tok", ""},
		{"no id", "", "sec", "", cloud.EnvAccessKeyID},
		{"no secret", "LTAI5tExample", "", "", cloud.EnvAccessKeySecret},
		{"blank id", "   ", "sec", "", cloud.EnvAccessKeyID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(cloud.EnvAccessKeyID, tc.id)
			t.Setenv(cloud.EnvAccessKeySecret, tc.secret)
			t.Setenv(cloud.EnvSecurityToken, tc.token)
			c, err := cloud.FromEnv()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.AccessKeyID != tc.id || c.AccessKeySecret != tc.secret || c.SecurityToken != tc.token || c.IsSTS() != (tc.token != "") {
				t.Fatalf("got %#v", c)
			}
		})
	}
}

func TestFromFC(t *testing.T) {
	ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{
		RequestID: "r1", Region: "cn-hangzhou", AccountId: "1234567890123456",
		Credentials: fccontext.Credentials{AccessKeyId: "STS.fc", AccessKeySecret: "fcsecret", SecurityToken: "fctoken"},
	})
	c, err := cloud.FromFC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "STS.fc" || c.AccessKeySecret != "fcsecret" || c.SecurityToken != "fctoken" || !c.Expiration.IsZero() {
		t.Fatalf("got %#v", c)
	}
	s, err := cloud.NewSessionFromFC(ctx, mustEndpoints(t, "cn-hangzhou"))
	if err != nil {
		t.Fatal(err)
	}
	if s.AccountID() != "1234567890123456" {
		t.Fatalf("session account %q, want the FC context's", s.AccountID())
	}

	if _, err := cloud.FromFC(context.Background()); err == nil || !strings.Contains(err.Error(), "fccontext") {
		t.Fatalf("no FC context: %v", err)
	}
	empty := fccontext.NewContext(context.Background(), &fccontext.FcContext{RequestID: "r2"})
	if _, err := cloud.FromFC(empty); err == nil || !strings.Contains(err.Error(), "AccessKeyID") {
		t.Fatalf("role-less function: %v", err)
	}
}

func TestExpiresWithin(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		exp    time.Time
		within time.Duration
		want   bool
	}{
		{time.Time{}, time.Hour, false},
		{now.Add(10 * time.Minute), 5 * time.Minute, false},
		{now.Add(5 * time.Minute), 5 * time.Minute, true},
		{now.Add(4 * time.Minute), 5 * time.Minute, true},
		{now.Add(-time.Minute), 0, true},
	}
	for _, tc := range cases {
		if got := (cloud.Credentials{Expiration: tc.exp}).ExpiresWithin(now, tc.within); got != tc.want {
			t.Errorf("exp %v within %v = %v, want %v", tc.exp, tc.within, got, tc.want)
		}
	}
}
