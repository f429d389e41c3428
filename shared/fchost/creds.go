package fchost

import (
	"context"
	"sync"
	"time"
)

// credentials are the function role's STS keys, passed in the x-fc-access-key-* headers.
type credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Expires         time.Time // zero: never expires
}

// refreshBefore: credentials are renewed when less than this remains, so a function never starts
// with keys about to lapse.
const refreshBefore = 5 * time.Minute

// credCache caches credentials per role until near expiry; concurrent callers for one role share a fetch.
type credCache struct {
	fetch func(ctx context.Context, role string) (ak, sk, token string, expires time.Time, err error)
	now   func() time.Time
	mu    sync.Mutex
	roles map[string]*roleCreds
}

type roleCreds struct {
	mu    sync.Mutex
	creds credentials
	ok    bool
}

func newCredCache(fetch func(context.Context, string) (string, string, string, time.Time, error), now func() time.Time) *credCache {
	return &credCache{fetch: fetch, now: now, roles: map[string]*roleCreds{}}
}

// get returns the role's credentials: empty when the function has no role or no provider is set.
func (c *credCache) get(ctx context.Context, role string) (credentials, error) {
	if role == "" || c.fetch == nil {
		return credentials{}, nil
	}
	c.mu.Lock()
	rc := c.roles[role]
	if rc == nil {
		rc = &roleCreds{}
		c.roles[role] = rc
	}
	c.mu.Unlock()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.ok && (rc.creds.Expires.IsZero() || c.now().Add(refreshBefore).Before(rc.creds.Expires)) {
		return rc.creds, nil
	}
	ak, sk, token, exp, err := c.fetch(ctx, role)
	if err != nil {
		return credentials{}, err
	}
	rc.creds = credentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: token, Expires: exp}
	rc.ok = true
	return rc.creds, nil
}
