package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/httpapi"
	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

// Offboard re-reads a member and drops it from collection when it left the directory or the policy
// excludes it. A member still in the directory and selected stays: the policy decides, not the call.
func (a *App) Offboard(ctx context.Context, accountID string) (*reconcile.Report, error) {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	rep, err := inv.rec.Run(ctx, reconcile.Scope{Member: accountID}, false)
	if err != nil {
		return nil, err
	}
	for _, m := range rep.Members {
		if m.AccountID == accountID && m.Controls[reconcile.ControlLogAudit].Status != reconcile.StatusExcluded &&
			inv.policy.LogAudit.Mode == policy.ModeResourceDirectory && inv.policy.LogAudit.ResourceDirectory.Members == policy.MembersCustom {
			return rep, fmt.Errorf("%w: member %s is still in the resource directory and selected by the policy: exclude it in "+
				"logAudit.resourceDirectory.exclude (POST /v1/setup) to stop collecting it", httpapi.ErrConflict, accountID)
		}
		if m.AccountID == accountID && inv.policy.LogAudit.ResourceDirectory.Members == policy.MembersAll {
			return rep, fmt.Errorf("%w: Log Audit collects all members (logAudit.resourceDirectory.members: all); switch to custom "+
				"with an exclude to stop collecting %s", httpapi.ErrConflict, accountID)
		}
	}
	return rep, nil
}

func (a *App) requireCustomAuthentication(p *policy.Policy) error {
	if p.LogAudit.Mode != policy.ModeCustomAuthentication {
		return fmt.Errorf("%w: logAudit.mode is %s: custom authentication applies only with logAudit.mode customAuthentication",
			httpapi.ErrConflict, p.LogAudit.Mode)
	}
	return nil
}

// AuthorizeWithAccessKey creates the roles Log Audit needs in a member with the member's AccessKey
// pair, used for this call only (never logged, stored or returned), then adds the member.
func (a *App) AuthorizeWithAccessKey(ctx context.Context, accountID, accessKeyID, accessKeySecret string) error {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return err
	}
	if err := a.requireCustomAuthentication(inv.policy); err != nil {
		return err
	}
	if accountID == inv.policy.Central.AccountID {
		return &fcevent.FieldError{Field: "accountId", Rule: "member", Message: "the central account collects its own logs: give a member's account id"}
	}
	client := logaudit.New(inv.sess, inv.policy.LogAudit.Region)
	if err := client.AuthorizeWithAccessKey(ctx, accountID, accessKeyID, accessKeySecret); err != nil {
		return keyRefused(err)
	}
	return refused(inv.rec.ApplyLogAudit(ctx, reconcile.LogAuditChange{Mode: logaudit.ModeCustomAuthentication, Add: []string{accountID}}))
}

// AuthorizeManually adds members whose owners created the roles by hand.
func (a *App) AuthorizeManually(ctx context.Context, accountIDs []string) error {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return err
	}
	if err := a.requireCustomAuthentication(inv.policy); err != nil {
		return err
	}
	for _, id := range accountIDs {
		if id == inv.policy.Central.AccountID {
			return &fcevent.FieldError{Field: "accounts", Rule: "member", Message: "the central account collects its own logs: list members only"}
		}
	}
	err = inv.rec.ApplyLogAudit(ctx, reconcile.LogAuditChange{Mode: logaudit.ModeCustomAuthentication, Add: accountIDs})
	if st := cloud.Status(err); st >= 400 && st < 500 && cloud.Classify(err) != cloud.Throttled {
		// Log Audit refused the members: most often their roles were not created by hand yet.
		return &fcevent.FieldError{Field: "accounts", Rule: "authorization", Message: "Log Audit refused the members (create the roles by hand first): " + err.Error()}
	}
	return err
}

// ClearLogAudit empties the multi-account configuration (needed before switching modes).
func (a *App) ClearLogAudit(ctx context.Context) error {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return err
	}
	return refused(inv.rec.ClearLogAudit(ctx))
}

// keyRefused names the field at fault when the member's AccessKey pair itself is the problem: bad
// input, answered 400 (the error text never holds the secret).
func keyRefused(err error) error {
	field := func(name, rule string) error {
		return &fcevent.FieldError{Field: name, Rule: rule, Message: err.Error()}
	}
	switch {
	case errors.Is(err, logaudit.ErrAccessKeyRejected) && strings.Contains(err.Error(), "InvalidAccessKeyId"):
		return field("accessKeyId", "rejected")
	case errors.Is(err, logaudit.ErrAccessKeyRejected):
		return field("accessKeySecret", "rejected")
	case errors.Is(err, logaudit.ErrAccessKeyAccount):
		return field("accessKeyId", "account-mismatch")
	case errors.Is(err, logaudit.ErrNoRAMPermission):
		return field("accessKeyId", "ram-write-permission")
	}
	return refused(err)
}

// refused turns the cloud's permanent refusals (a member without the roles, a wrong AccessKey) into
// conflicts the caller can act on; throttling and outages stay internal errors.
func refused(err error) error {
	if err == nil {
		return nil
	}
	if st := cloud.Status(err); st >= 400 && st < 500 && cloud.Classify(err) != cloud.Throttled {
		return fmt.Errorf("%w: %v", httpapi.ErrConflict, err)
	}
	return err
}
