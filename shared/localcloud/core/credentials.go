package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Authenticate resolves an AccessKeyId (and the SecurityToken an STS key must carry) to the
// caller and the secret its signature must use. Errors carry the real codes.
func (w *World) Authenticate(accessKeyID, securityToken string) (Principal, string, *AuthError) {
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	if accessKeyID == "" {
		return Principal{}, "", &AuthError{400, "MissingAccessKeyId", "AccessKeyId is mandatory for this action."}
	}
	if strings.HasPrefix(accessKeyID, "STS.") {
		c, ok := w.STS[accessKeyID]
		if !ok {
			return Principal{}, "", &AuthError{404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
		}
		if securityToken == "" {
			return Principal{}, "", &AuthError{400, "MissingSecurityToken", "SecurityToken is mandatory for this action."}
		}
		if securityToken != c.SecurityToken {
			return Principal{}, "", &AuthError{400, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey."}
		}
		if !w.Now().Before(c.Expiration) {
			return Principal{}, "", &AuthError{400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired."}
		}
		if _, ok := w.Roles[c.AccountID][strings.ToLower(c.RoleName)]; !ok {
			return Principal{}, "", &AuthError{403, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired: the role was deleted."}
		}
		return Principal{
			AccountID: c.AccountID, Type: PrincipalAssumedRole, AccessKeyID: c.AccessKeyID,
			PrincipalID: c.AssumedRoleID, RoleName: c.RoleName, RoleSessionName: c.RoleSessionName,
		}, c.AccessKeySecret, nil
	}
	if securityToken != "" {
		// A token sent with a long-lived key was forged or mixed up.
		return Principal{}, "", &AuthError{400, "InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed."}
	}
	k, ok := w.AccessKeys[accessKeyID]
	if !ok {
		return Principal{}, "", &AuthError{404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
	}
	if k.Disabled {
		return Principal{}, "", &AuthError{400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled."}
	}
	p := Principal{AccountID: k.AccountID, Type: PrincipalRoot, AccessKeyID: k.ID, PrincipalID: k.AccountID}
	if k.UserName != "" {
		p.Type = PrincipalRAMUser
		p.UserName = k.UserName
		p.PrincipalID = "2" + k.AccountID[1:] // stable pseudo user id
	}
	return p, k.Secret, nil
}

// AssumeRoleLocked issues STS credentials for roleArn to caller, enforcing the role's trust policy.
// A service principal (ActionTrail delivering cross-account) passes service instead of a caller account.
func (w *World) AssumeRoleLocked(caller Principal, service, roleArn, session string, duration time.Duration) (*STSCredential, *AuthError) {
	acct, roleName, ok := ParseRoleARN(roleArn)
	if !ok {
		return nil, &AuthError{400, "InvalidParameter.RoleArn", "The parameter RoleArn is invalid."}
	}
	r, ok := w.Roles[acct][strings.ToLower(roleName)]
	if !ok {
		return nil, &AuthError{404, "EntityNotExist.Role", "The role not exists: " + roleArn + "."}
	}
	trusted := false
	if service != "" {
		for _, s := range r.TrustedServices {
			if s == service {
				trusted = true
			}
		}
	} else {
		for _, a := range r.TrustedAccounts {
			if a == caller.AccountID {
				trusted = true
			}
		}
	}
	if !trusted {
		return nil, &AuthError{403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM."}
	}
	if caller.Type == PrincipalAssumedRole && service == "" && duration > time.Hour {
		// Role chaining is capped at one hour by STS.
		return nil, &AuthError{400, "InvalidParameter.DurationSeconds", "The DurationSeconds of a role chain can not exceed 3600."}
	}
	max := time.Duration(r.MaxSessionDuration) * time.Second
	if duration > max {
		return nil, &AuthError{400, "InvalidParameter.DurationSeconds", "The DurationSeconds exceeds the MaxSessionDuration of the role."}
	}
	c := &STSCredential{
		AccessKeyID:     "STS." + NewID(mixedAlnum, 25),
		AccessKeySecret: NewID(mixedAlnum, 44),
		AccountID:       acct,
		RoleName:        r.RoleName,
		RoleSessionName: session,
		AssumedRoleID:   r.RoleID + ":" + session,
		Expiration:      w.Now().Add(duration).Truncate(time.Second),
		Caller:          caller,
	}
	c.SecurityToken = w.signToken(c)
	w.STS[c.AccessKeyID] = c
	return c, nil
}

// signToken makes a token that looks opaque but is tied to its key, so a forged one is detectable.
func (w *World) signToken(c *STSCredential) string {
	m := hmac.New(sha256.New, []byte("localcloud-sts"))
	m.Write([]byte(c.AccessKeyID + "|" + c.AccountID + "|" + c.RoleName + "|" + c.Expiration.String()))
	return "CAIS" + base64.StdEncoding.EncodeToString(append([]byte(NewID(mixedAlnum, 24)), m.Sum(nil)...))
}

// ParseRoleARN splits acs:ram::<uid>:role/<name>.
func ParseRoleARN(arn string) (account, role string, ok bool) {
	rest, found := strings.CutPrefix(arn, "acs:ram::")
	if !found {
		return "", "", false
	}
	account, name, found := strings.Cut(rest, ":role/")
	if !found || account == "" || name == "" {
		return "", "", false
	}
	return account, name, true
}

// nonceCache remembers signature nonces for the skew window, so a replayed request is refused.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
	last time.Time
}

func (n *nonceCache) init() { n.seen = map[string]time.Time{} }

// UseNonce returns false when the nonce was already used by this key inside the window.
func (w *World) UseNonce(accessKeyID, nonce string) bool {
	n := &w.nonces
	now := w.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.Sub(n.last) > time.Minute {
		for k, t := range n.seen {
			if now.Sub(t) > 15*time.Minute {
				delete(n.seen, k)
			}
		}
		n.last = now
	}
	key := accessKeyID + "|" + nonce
	if _, dup := n.seen[key]; dup {
		return false
	}
	n.seen[key] = now
	return true
}
