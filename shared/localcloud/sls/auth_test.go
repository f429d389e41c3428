package sls

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
)

func TestSignatures(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-auth", "app_logs", 30)

	t.Run("v1 hmac-sha1 through the SDK", func(t *testing.T) {
		if _, err := e.client().GetProject("p-auth"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("v4 through the SDK", func(t *testing.T) {
		c := e.client()
		c.AuthVersion, c.Region = slssdk.AuthV4, "cn-hangzhou"
		if _, err := c.GetProject("p-auth"); err != nil {
			t.Fatalf("GetProject v4: %v", err)
		}
		if err := c.PutLogs("p-auth", "app_logs", mkGroup("t", "s", mkLog(testStart, "k", "v4"))); err != nil {
			t.Fatalf("PutLogs v4: %v", err)
		}
		if _, err := c.GetLogs("p-auth", "app_logs", "", testStart.Unix()-10, testStart.Unix()+10, "k: v4", 10, 0, false); err != nil {
			t.Fatalf("GetLogs v4 (query string signed): %v", err)
		}
	})
	t.Run("v4 with another region", func(t *testing.T) {
		c := e.client()
		c.AuthVersion, c.Region = slssdk.AuthV4, "cn-beijing"
		_, err := c.GetProject("p-auth")
		slsErr(t, err, 401, "SignatureNotMatch")
	})
	t.Run("v4 with a wrong secret", func(t *testing.T) {
		c := NewTestClient(e.addr(), e.key.ID, "wrong-secret", "")
		c.AuthVersion = slssdk.AuthV4
		_, err := c.GetProject("p-auth")
		slsErr(t, err, 401, "SignatureNotMatch")
	})
	t.Run("v1 hmac-sha256 built by hand", func(t *testing.T) {
		// The string to sign is written out here independently of the server's code.
		date := time.Now().UTC().Format(http.TimeFormat)
		sts := "GET\n\n\n" + date + "\nx-log-apiversion:0.6.0\nx-log-bodyrawsize:0\nx-log-signaturemethod:hmac-sha256\n/logstores?offset=0&size=10"
		mac := hmac.New(sha256.New, []byte(e.key.Secret))
		mac.Write([]byte(sts))
		sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		req, _ := http.NewRequest("GET", "http://p-auth."+TestEndpoint+"/logstores?size=10&offset=0", nil)
		req.Header.Set("Date", date)
		req.Header.Set("x-log-apiversion", "0.6.0")
		req.Header.Set("x-log-bodyrawsize", "0")
		req.Header.Set("x-log-signaturemethod", "hmac-sha256")
		req.Header.Set("Authorization", "LOG "+e.key.ID+":"+sig)
		resp, err := DialingHTTPClient(e.addr()).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("hmac-sha256 request answered %d", resp.StatusCode)
		}
		// The hash is chosen by x-log-signaturemethod: an HMAC-SHA256 signature declared as
		// hmac-sha1 does not match.
		e.do(rawRequest{Method: "GET", Host: "p-auth." + TestEndpoint, Path: "/logstores", SignMethod: "hmac-sha256"}).want(t, 200, "")
		e.do(rawRequest{Method: "GET", Host: "p-auth." + TestEndpoint, Path: "/logstores", SignMethod: "hmac-sha256",
			Header: map[string]string{"x-log-signaturemethod": "hmac-sha1"}}).want(t, 401, "SignatureNotMatch")
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, err := NewTestClient(e.addr(), e.key.ID, "not-the-secret", "").GetProject("p-auth")
		slsErr(t, err, 401, "SignatureNotMatch")
	})
	t.Run("unknown access key", func(t *testing.T) {
		_, err := NewTestClient(e.addr(), "LTAInobodyhasthiskey0000", "x", "").GetProject("p-auth")
		slsErr(t, err, 401, "Unauthorized")
	})
	t.Run("disabled access key", func(t *testing.T) {
		e.w.Mu.Lock()
		k := e.w.NewAccessKeyLocked(e.owner, "")
		k.Disabled = true
		e.w.Mu.Unlock()
		_, err := NewTestClient(e.addr(), k.ID, k.Secret, "").GetProject("p-auth")
		slsErr(t, err, 401, "Unauthorized")
	})
}

func TestRequestChecks(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-req", "", 0)
	host := "p-req." + TestEndpoint
	old := time.Now().Add(-20 * time.Minute).UTC().Format(http.TimeFormat)
	tests := []struct {
		name   string
		rr     rawRequest
		status int
		code   string
	}{
		{"ok", rawRequest{Method: "GET", Host: host, Path: "/"}, 200, ""},
		{"no api version", rawRequest{Method: "GET", Host: host, Path: "/", Header: map[string]string{"x-log-apiversion": ""}}, 400, "MissingAPIVersion"},
		{"bad api version", rawRequest{Method: "GET", Host: host, Path: "/", Header: map[string]string{"x-log-apiversion": "0.5.0"}}, 400, "InvalidAPIVersion"},
		{"no authorization", rawRequest{Method: "GET", Host: host, Path: "/", Unsigned: true}, 400, "MissAccessKeyId"},
		{"malformed authorization", rawRequest{Method: "GET", Host: host, Path: "/", Unsigned: true, Header: map[string]string{"Authorization": "LOG :abc"}}, 400, "ParameterInvalid"},
		{"unknown scheme", rawRequest{Method: "GET", Host: host, Path: "/", Unsigned: true, Header: map[string]string{"Authorization": "Bearer x"}}, 400, "ParameterInvalid"},
		{"no date", rawRequest{Method: "GET", Host: host, Path: "/", Header: map[string]string{"Date": ""}}, 400, "MissingDate"},
		{"bad date", rawRequest{Method: "GET", Host: host, Path: "/", Header: map[string]string{"Date": "yesterday"}}, 400, "InvalidDateFormat"},
		{"skewed date", rawRequest{Method: "GET", Host: host, Path: "/", Header: map[string]string{"Date": old}}, 400, "RequestTimeExpired"},
		{"no signature method", rawRequest{Method: "GET", Host: host, Path: "/", Header: map[string]string{"x-log-signaturemethod": ""}}, 400, "MissingSignatureMethod"},
		{"bad signature method", rawRequest{Method: "GET", Host: host, Path: "/", SignMethod: "hmac-md5"}, 400, "InvalidSignatureMethod"},
		{"body without content type", rawRequest{Method: "PUT", Host: host, Path: "/", Body: []byte(`{"description":"x"}`), Header: map[string]string{"Content-Type": ""}}, 400, "MissingContentType"},
		{"md5 mismatch", rawRequest{Method: "PUT", Host: host, Path: "/", Body: []byte(`{"description":"x"}`), Header: map[string]string{"Content-MD5": "0123456789ABCDEF0123456789ABCDEF"}}, 400, "InvalidContentMD5"},
		{"unknown route", rawRequest{Method: "GET", Host: host, Path: "/machinegroups"}, 400, "ParameterInvalid"},
		{"project call without project", rawRequest{Method: "GET", Path: "/logstores"}, 400, "ParameterInvalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(tc.rr).want(t, tc.status, tc.code)
		})
	}
}

func TestCrossAccountAndRoles(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-owned", "app_logs", 30)
	other := e.otherClient()

	// Another account is refused everywhere, with RAM's message naming the owner's resource.
	_, err := other.GetProject("p-owned")
	slsErr(t, err, 401, "Unauthorized")
	if !strings.Contains(err.(*slssdk.Error).Message, "acs:log:cn-hangzhou:"+e.owner+":project/p-owned") {
		t.Fatalf("denial message: %s", err.(*slssdk.Error).Message)
	}
	_, err = other.ListLogStore("p-owned")
	slsErr(t, err, 401, "Unauthorized")
	err = other.PutLogs("p-owned", "app_logs", mkGroup("", "", mkLog(testStart, "k", "v")))
	slsErr(t, err, 401, "Unauthorized")
	_, err = other.GetLogs("p-owned", "app_logs", "", testStart.Unix()-1, testStart.Unix()+1, "", 10, 0, false)
	slsErr(t, err, 401, "Unauthorized")
	err = other.DeleteProject("p-owned")
	slsErr(t, err, 401, "Unauthorized")
	if _, ok := e.s.ProjectOwner("p-owned"); !ok {
		t.Fatal("the other account deleted the project")
	}
	// ... but it still learns that a project does not exist.
	_, err = other.GetProject("p-missing")
	slsErr(t, err, 404, "ProjectNotExist")

	// Through a role of the owner account, the other account acts as the owner.
	cred := e.assumeRole(e.oKey, e.owner, time.Hour)
	sts := NewTestClient(e.addr(), cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	if _, err := sts.GetProject("p-owned"); err != nil {
		t.Fatalf("assumed role GetProject: %v", err)
	}
	if err := sts.PutLogs("p-owned", "app_logs", mkGroup("", "", mkLog(testStart, "via", "role"))); err != nil {
		t.Fatalf("assumed role PutLogs: %v", err)
	}
	sts.AuthVersion = slssdk.AuthV4
	if _, err := sts.ListLogStore("p-owned"); err != nil {
		t.Fatalf("assumed role v4: %v", err)
	}
	// A project created through the role belongs to the role's account.
	if _, err := sts.CreateProject("p-by-role", ""); err != nil {
		t.Fatal(err)
	}
	if owner, _ := e.s.ProjectOwner("p-by-role"); owner != e.owner {
		t.Fatalf("owner of a project created by an assumed role = %s, want %s", owner, e.owner)
	}

	// A wrong or missing token, and an expired credential, are refused.
	_, err = NewTestClient(e.addr(), cred.AccessKeyID, cred.AccessKeySecret, "CAISforged").GetProject("p-owned")
	slsErr(t, err, 401, "Unauthorized")
	_, err = NewTestClient(e.addr(), cred.AccessKeyID, cred.AccessKeySecret, "").GetProject("p-owned")
	slsErr(t, err, 401, "Unauthorized")
	e.clock.Advance(2 * time.Hour)
	_, err = NewTestClient(e.addr(), cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken).GetProject("p-owned")
	slsErr(t, err, 401, "Unauthorized")
	if !strings.Contains(err.(*slssdk.Error).Message, "expired") {
		t.Fatalf("expired token message: %s", err.(*slssdk.Error).Message)
	}
}

func TestProjectFromHost(t *testing.T) {
	tests := []struct{ host, want string }{
		{"p1.cn-hangzhou.log.aliyuncs.com", "p1"},
		{"p1.cn-hangzhou.log.aliyuncs.com:8080", "p1"},
		{"P1.CN-HANGZHOU.LOG.ALIYUNCS.COM", "p1"},
		{"cn-hangzhou.log.aliyuncs.com", ""},
		{"cn-hangzhou.log.aliyuncs.com:80", ""},
		{"p1.cn-hangzhou-intranet.log.aliyuncs.com", "p1"},
		{"p1.cn-hangzhou.sls.aliyuncs.com", "p1"},
		{"p1.127.0.0.1:9000", "p1"},
		{"127.0.0.1:9000", ""},
		{"[::1]:9000", ""},
		{"p1.localhost:9000", "p1"},
		{"localhost:9000", ""},
		{"p1.sls.example.test", "p1"},
		{"sls.local", ""},
		{"", ""},
		{"a.b.c.127.0.0.1", ""},
	}
	for _, tc := range tests {
		if got := projectFromHost(tc.host); got != tc.want {
			t.Errorf("projectFromHost(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
}
