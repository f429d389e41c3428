package cloud

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
)

// DefaultMemberRole is the role every Resource Directory member has, trusting the management account.
const DefaultMemberRole = "ResourceDirectoryAccountAccessRole"

var (
	accountIDRE   = regexp.MustCompile(`^[0-9]{1,32}$`)
	sessionNameRE = regexp.MustCompile(`^[A-Za-z0-9.@_-]{2,64}$`)
)

// AssumeRoleError says a member could not be entered because STS refused (EntityNotExist.Role:
// the role is gone; NoPermission: it no longer trusts us). The reconciler marks the member
// unreachable and carries on. Throttling and transport failures are not AssumeRoleErrors:
// they say nothing about the member.
type AssumeRoleError struct {
	Account string
	RoleArn string
	Code    string
	Message string
	Err     error // the SDK error
}

func (e *AssumeRoleError) Error() string {
	return fmt.Sprintf("assume %s in account %s: %s: %s", e.RoleArn, e.Account, e.Code, e.Message)
}

func (e *AssumeRoleError) Unwrap() error { return e.Err }

// RoleArn is the ARN ForAccount assumes in a member.
func (s *Session) RoleArn(accountID string) string {
	return "acs:ram::" + accountID + ":role/" + s.sh.cfg.roleName
}

// CallerAccount returns the account the root credentials belong to, asking STS
// GetCallerIdentity once when no WithAccountID was given.
func (s *Session) CallerAccount(ctx context.Context) (string, error) {
	if s.root != nil {
		return s.account, nil
	}
	if id := s.AccountID(); id != "" {
		return id, nil
	}
	return s.sh.whoami.do(ctx, "", s.sh.cfg.assumeTimeout, func(fctx context.Context) (string, error) {
		if id := s.AccountID(); id != "" {
			return id, nil
		}
		c, err := s.STS()
		if err != nil {
			return "", err
		}
		var resp *sts.GetCallerIdentityResponse
		err = s.Do(fctx, "sts:GetCallerIdentity", func() error {
			var e error
			resp, e = c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
			return e
		})
		if err != nil {
			return "", fmt.Errorf("learning the caller's account: %w", err)
		}
		if !accountIDRE.MatchString(resp.AccountId) {
			return "", fmt.Errorf("GetCallerIdentity: AccountId %q is not an account id", resp.AccountId)
		}
		s.sh.mu.Lock()
		s.sh.rootAccount = resp.AccountId
		s.sh.mu.Unlock()
		return resp.AccountId, nil
	})
}

// ForAccount returns a session acting in accountID. The account the base credentials belong
// to gets the root session itself; a member gets STS credentials for its
// ResourceDirectoryAccountAccessRole (WithRoleName), cached and renewed when less than
// WithRefreshBefore remains. Concurrent callers for one account share a single AssumeRole call.
// A refusal from STS comes back as *AssumeRoleError.
//
// Call ForAccount for each unit of work rather than keeping the result: a kept member
// session's credentials run out after the session duration.
func (s *Session) ForAccount(ctx context.Context, accountID string) (*Session, error) {
	root := s
	if s.root != nil {
		root = s.root
	}
	if !accountIDRE.MatchString(accountID) {
		return nil, fmt.Errorf("ForAccount: account id %q must be digits", accountID)
	}
	self, err := root.CallerAccount(ctx)
	if err != nil {
		return nil, err
	}
	if accountID == self {
		return root, nil
	}
	if m := root.cachedMember(accountID); m != nil {
		return m, nil
	}
	return root.sh.assumes.do(ctx, accountID, root.sh.cfg.assumeTimeout, func(fctx context.Context) (*Session, error) {
		// A flight that ended just before this one began may have filled the cache.
		if m := root.cachedMember(accountID); m != nil {
			return m, nil
		}
		m, err := root.assume(fctx, accountID)
		if err != nil {
			return nil, err
		}
		root.sh.mu.Lock()
		root.sh.members[accountID] = m
		root.sh.mu.Unlock()
		return m, nil
	})
}

func (s *Session) cachedMember(accountID string) *Session {
	s.sh.mu.Lock()
	defer s.sh.mu.Unlock()
	m, ok := s.sh.members[accountID]
	if !ok || m.creds.ExpiresWithin(s.sh.cfg.clock.Now(), s.sh.cfg.refreshBefore) {
		return nil
	}
	return m
}

// Forget drops a member's cached credentials (say, after its role was recreated).
func (s *Session) Forget(accountID string) {
	s.sh.mu.Lock()
	delete(s.sh.members, accountID)
	s.sh.mu.Unlock()
}

func (s *Session) assume(ctx context.Context, accountID string) (*Session, error) {
	c, err := s.STS()
	if err != nil {
		return nil, err
	}
	arn := s.RoleArn(accountID)
	req := sts.CreateAssumeRoleRequest()
	req.RoleArn = arn
	req.RoleSessionName = s.sh.cfg.sessionName
	req.DurationSeconds = requests.NewInteger(int(s.sh.cfg.duration / time.Second))
	var resp *sts.AssumeRoleResponse
	err = s.Do(ctx, "sts:AssumeRole", func() error {
		var e error
		resp, e = c.AssumeRole(req)
		return e
	})
	if err != nil {
		if memberRefused(err) {
			// STS answered and said no about this member: it is unreachable, the run is not broken.
			return nil, &AssumeRoleError{Account: accountID, RoleArn: arn, Code: Code(err), Message: serverMessage(err), Err: err}
		}
		return nil, fmt.Errorf("assume %s: %w", arn, err)
	}
	exp, err := time.Parse(time.RFC3339, resp.Credentials.Expiration)
	if err != nil {
		return nil, fmt.Errorf("assume %s: Credentials.Expiration %q is not an RFC 3339 time", arn, resp.Credentials.Expiration)
	}
	creds := Credentials{
		AccessKeyID:     resp.Credentials.AccessKeyId,
		AccessKeySecret: resp.Credentials.AccessKeySecret,
		SecurityToken:   resp.Credentials.SecurityToken,
		Expiration:      exp,
	}
	if err := creds.Validate(); err != nil || creds.SecurityToken == "" {
		return nil, fmt.Errorf("assume %s: STS returned incomplete credentials", arn)
	}
	s.sh.cfg.log.Debug().Str("account", accountID).Time("expiration", exp).Msg("assumed member role")
	return &Session{creds: creds, ep: s.ep, account: accountID, root: s, sh: s.sh}, nil
}

// memberRefused tells STS refusing this member's role (missing role, no trust, bad ARN) from
// failures of our own credentials (InvalidAccessKeyId, InvalidSecurityToken, ...), which would
// refuse every member alike and must fail the run instead.
func memberRefused(err error) bool {
	if Status(err) == 0 {
		return false
	}
	code := Code(err)
	switch {
	case Classify(err) == NotFound && !strings.HasPrefix(code, "InvalidAccessKeyId"):
		return true
	case code == "NoPermission", strings.HasPrefix(code, "AccessDenied"), code == "InvalidParameter.RoleArn":
		return true
	}
	return false
}

func serverMessage(err error) string {
	var m interface{ Message() string }
	if errors.As(err, &m) {
		return m.Message()
	}
	return err.Error()
}

// flight runs one call per key at a time; callers arriving meanwhile wait for its result.
// The call runs on its own goroutine with a context detached from any one caller's
// cancellation (bounded by timeout), so a caller that gives up does not fail the others.
type flight[T any] struct {
	mu    sync.Mutex
	calls map[string]*flightCall[T]
}

type flightCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func (f *flight[T]) do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall[T]{}
	}
	c, ok := f.calls[key]
	if !ok {
		c = &flightCall[T]{done: make(chan struct{})}
		f.calls[key] = c
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		go func() {
			defer cancel()
			defer func() {
				if p := recover(); p != nil {
					c.err = fmt.Errorf("panic in %q: %v", key, p)
				}
				f.mu.Lock()
				delete(f.calls, key)
				f.mu.Unlock()
				close(c.done)
			}()
			c.val, c.err = fn(fctx)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
