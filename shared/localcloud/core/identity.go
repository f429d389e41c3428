// Package core is localcloud's shared kernel: the accounts, credentials, Resource Directory,
// RAM roles, the ActionTrail recorder, the event bus, faults and stats that every emulated
// service reads and writes. Services live in sibling packages and talk to the world only
// through the methods here, so one lock guards a consistent organization.
package core

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Clock lets tests move time forward (STS expiry, delivery-job progress, TTL expiry).
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

// ManualClock is a Clock that only moves when told; safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t.UTC()} }
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// PrincipalType values are the userIdentity.type values of real ActionTrail records.
const (
	PrincipalRoot        = "root-account"
	PrincipalRAMUser     = "ram-user"
	PrincipalAssumedRole = "assumed-role"
)

// Principal is who made a call, resolved from its AccessKeyId (and SecurityToken).
type Principal struct {
	AccountID       string
	Type            string
	UserName        string // ram-user only
	PrincipalID     string
	AccessKeyID     string
	RoleName        string // assumed-role only
	RoleSessionName string // assumed-role only
}

// ARN is the principal's ARN as GetCallerIdentity and ActionTrail show it.
func (p Principal) ARN() string {
	switch p.Type {
	case PrincipalRAMUser:
		return fmt.Sprintf("acs:ram::%s:user/%s", p.AccountID, p.UserName)
	case PrincipalAssumedRole:
		return fmt.Sprintf("acs:ram::%s:assumed-role/%s/%s", p.AccountID, p.RoleName, p.RoleSessionName)
	default:
		return fmt.Sprintf("acs:ram::%s:root", p.AccountID)
	}
}

// AccessKey is a long-lived AccessKey pair of an account's root identity or of a RAM user.
type AccessKey struct {
	ID        string
	Secret    string
	AccountID string
	UserName  string // empty for the account's own (root) key
	Disabled  bool
}

// STSCredential is an AssumeRole result. The token is opaque to clients and checked here.
type STSCredential struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	AccountID       string // the account that owns the role
	RoleName        string
	RoleSessionName string
	AssumedRoleID   string
	Expiration      time.Time
	Caller          Principal
}

// Role is a RAM role in one account.
type Role struct {
	RoleID                   string
	RoleName                 string
	AccountID                string
	AssumeRolePolicyDocument string
	Description              string
	MaxSessionDuration       int
	CreateDate               time.Time
	UpdateDate               time.Time
	Policies                 []AttachedPolicy
	// TrustedAccounts and TrustedServices are parsed from the trust policy: who may assume it.
	TrustedAccounts []string
	TrustedServices []string
}

// ARN of the role as RAM writes it.
func (r *Role) ARN() string {
	return fmt.Sprintf("acs:ram::%s:role/%s", r.AccountID, strings.ToLower(r.RoleName))
}

type AttachedPolicy struct {
	PolicyType string
	PolicyName string
	AttachDate time.Time
}

// AuthError is a credential failure; each protocol renders it in its own error format.
type AuthError struct {
	Status  int
	Code    string
	Message string
}

func (e *AuthError) Error() string { return e.Code + ": " + e.Message }

// NewID returns n random characters from alphabet, for ids that must not collide. It reads random
// bytes in bulk and rejects those past the largest multiple of len(alphabet), so ids are uniform.
func NewID(alphabet string, n int) string {
	out := make([]byte, 0, n)
	limit := byte(256 - 256%len(alphabet))
	buf := make([]byte, n+n/2+8)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on Linux; a broken entropy source is fatal
		}
		for _, b := range buf {
			if len(out) == n {
				break
			}
			if b < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	mixedAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	digits     = "0123456789"
)

// NewRequestID is shaped like real request ids: an upper-case UUID.
func NewRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := strings.ToUpper(hex.EncodeToString(b))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// NewAccountID is a 16-digit account id that does not start with 0.
func NewAccountID() string { return "1" + NewID(digits, 15) }
