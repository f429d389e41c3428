package archive_test

import (
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// fastRetry keeps throttling tests quick: the behaviour is the same at any scale.
var fastRetry = cloud.RetryPolicy{MaxAttempts: 25, Base: time.Millisecond, Cap: 4 * time.Millisecond}

type fixture struct {
	srv  *localcloud.Server
	info cloud.LocalcloudInfo
	s    *cloud.Session
}

func start(t *testing.T) *fixture {
	t.Helper()
	srv, err := localcloud.Start(localcloud.Options{NoTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	info := srv.CloudInfo()
	f := &fixture{srv: srv, info: info}
	f.s = f.session(t, info.Credentials(), info.ManagementAccountID)
	return f
}

func (f *fixture) session(t *testing.T, creds cloud.Credentials, account string) *cloud.Session {
	t.Helper()
	ep, err := f.info.ToEndpoints()
	if err != nil {
		t.Fatal(err)
	}
	s, err := cloud.NewSession(creds, ep, cloud.WithRetryPolicy(fastRetry), cloud.WithAccountID(account),
		cloud.WithLimits(map[string]cloud.Limit{"oss": {PerSecond: 0}}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// otherAccount is a session of an account outside the directory, with its own root key.
func (f *fixture) otherAccount(t *testing.T) *cloud.Session {
	t.Helper()
	w := f.srv.World
	w.Mu.Lock()
	id := core.NewAccountID()
	w.AddAccountLocked(id, "stranger", "ResourceAccount")
	key := w.NewAccessKeyLocked(id, "")
	w.Mu.Unlock()
	return f.session(t, cloud.Credentials{AccessKeyID: key.ID, AccessKeySecret: key.Secret}, id)
}

// calls counts the OSS calls of an action localcloud served.
func (f *fixture) calls(action string) int64 {
	c, _, _ := f.srv.World.Stats.Sum("oss", action)
	return c
}

// writes counts the write calls localcloud served, across products.
func (f *fixture) writes() int64 {
	return f.srv.World.Stats.WriteCalls()
}

// raw is an SDK client for out-of-band changes, as a person at the console would make them.
func (f *fixture) raw(t *testing.T) *oss.Client {
	t.Helper()
	c, err := f.s.OSS()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// unblockPublicAccess turns the bucket's Block Public Access off out of band.
func (f *fixture) unblockPublicAccess(t *testing.T, bucket string) {
	t.Helper()
	c := f.raw(t)
	resp, err := c.Conn.Do("DELETE", bucket, "", map[string]interface{}{"publicAccessBlock": nil}, nil, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
