package resourcemanager

import (
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// handshakeTTL is how long an invitation waits: the documented examples expire after 14 days.
const handshakeTTL = 14 * 24 * time.Hour

// Handshake statuses.
const (
	HandshakePending   = "Pending"
	HandshakeAccepted  = "Accepted"
	HandshakeCancelled = "Cancelled"
	HandshakeDeclined  = "Declined"
	HandshakeExpired   = "Expired"
)

type handshakeJSON struct {
	HandshakeID         string `json:"HandshakeId"`
	ResourceDirectoryID string `json:"ResourceDirectoryId"`
	MasterAccountID     string `json:"MasterAccountId"`
	MasterAccountName   string `json:"MasterAccountName"`
	TargetEntity        string `json:"TargetEntity"`
	TargetType          string `json:"TargetType"`
	Note                string `json:"Note"`
	Status              string `json:"Status"`
	CreateTime          string `json:"CreateTime"`
	ModifyTime          string `json:"ModifyTime"`
	ExpireTime          string `json:"ExpireTime"`
}

// statusAt is a handshake's status at now: a pending invitation past its expiry is Expired even
// before a write persists that.
func statusAt(h *core.Handshake, now time.Time) string {
	if h.Status == HandshakePending && !now.Before(h.ExpireTime) {
		return HandshakeExpired
	}
	return h.Status
}

func handshakeView(h *core.Handshake, now time.Time) handshakeJSON {
	return handshakeJSON{
		HandshakeID: h.HandshakeID, ResourceDirectoryID: h.ResourceDirectoryID, MasterAccountID: h.MasterAccountID,
		MasterAccountName: h.MasterAccountName, TargetEntity: h.TargetEntity, TargetType: h.TargetType, Note: h.Note,
		Status: statusAt(h, now), CreateTime: core.APITime(h.CreateTime), ModifyTime: core.APITime(h.ModifyTime),
		ExpireTime: core.APITime(h.ExpireTime),
	}
}

// isTarget reports whether accountID is the invited account (by id, or by its logon email).
func isTarget(w *core.World, h *core.Handshake, accountID string) bool {
	if h.TargetType == "Account" {
		return h.TargetEntity == accountID
	}
	a, ok := w.Accounts[accountID]
	return ok && a.AccountName != "" && strings.EqualFold(a.AccountName, h.TargetEntity)
}

// handshakeFor finds a handshake the caller may see: the inviting management account or the invited one.
func handshakeFor(w *core.World, c *core.Call) (*core.Handshake, error) {
	id, err := required(c, "HandshakeId", "HandshakeId")
	if err != nil {
		return nil, err
	}
	if !handshakeIDRE.MatchString(id) {
		return nil, core.Errorf(400, "InvalidParameter.HandshakeId", "The HandshakeId is invalid: a handshake id is h-xxxx.")
	}
	h, ok := w.Handshakes[id]
	if !ok || (h.MasterAccountID != c.Caller.AccountID && !isTarget(w, h, c.Caller.AccountID)) {
		return nil, core.Errorf(404, "EntityNotExists.Handshake", "The specified handshake does not exist: %s.", id)
	}
	return h, nil
}

func (s *service) inviteAccount(c *core.Call) (any, error) {
	target, err := required(c, "TargetEntity", "TargetEntity")
	if err != nil {
		return nil, err
	}
	typ, err := required(c, "TargetType", "TargetType")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Account":
		if !accountIDRE.MatchString(target) {
			return nil, core.Errorf(400, "InvalidParameter.TargetEntity", "The TargetEntity is invalid: with TargetType Account it is a 16-digit account id.")
		}
	case "Email":
		if at := strings.IndexByte(target, '@'); at < 1 || at == len(target)-1 {
			return nil, core.Errorf(400, "InvalidParameter.TargetEntity", "The TargetEntity is invalid: with TargetType Email it is a logon email address.")
		}
	default:
		return nil, core.Errorf(400, "InvalidParameter.TargetType", "The TargetType is invalid: Account or Email, got %q.", typ)
	}
	note := c.Get("Note")
	if utf8.RuneCountInString(note) > 1024 {
		return nil, core.Errorf(400, "InvalidParameter.Note.Length", "The length of the invitation note exceeds the limit of 1024 characters.")
	}
	// Tags are checked like everywhere else but not kept: core.Handshake has no place for them,
	// so an accepted invitation does not tag the new member.
	if _, err := tagsParam(c, "Tag"); err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	var invited *core.Account
	if typ == "Account" {
		a, ok := w.Accounts[target]
		if !ok {
			return nil, core.Errorf(400, "InvalidParameter.TargetEntity", "The TargetEntity is invalid: no Alibaba Cloud account %s.", target)
		}
		invited = a
	} else {
		for _, a := range w.Accounts {
			if strings.EqualFold(a.AccountName, target) {
				invited = a
				break
			}
		}
	}
	if invited != nil && (invited.InDirectory || invited.AccountID == w.ManagementAccountID) {
		return nil, core.Errorf(409, "NotSupport.AccountInAnotherResourceDirectory", "The invited account is a management account for another resource directory or a member of a resource directory.")
	}
	now := w.Now()
	for _, h := range w.Handshakes {
		if strings.EqualFold(h.TargetEntity, target) && statusAt(h, now) == HandshakePending {
			return nil, core.Errorf(409, "EntityAlreadyExists.Handshake", "Handshakes with the same target entity already exist: %s.", h.HandshakeID)
		}
	}
	h := &core.Handshake{
		ResourceDirectoryID: w.Directory.ResourceDirectoryID, MasterAccountID: w.Directory.MasterAccountID,
		MasterAccountName: w.Directory.MasterAccountName, TargetEntity: target, TargetType: typ, Note: note,
		Status: HandshakePending, CreateTime: now, ModifyTime: now, ExpireTime: now.Add(handshakeTTL),
	}
	for {
		h.HandshakeID = "h-" + core.NewID(alnum, 16)
		if _, taken := w.Handshakes[h.HandshakeID]; !taken {
			break
		}
	}
	w.Handshakes[h.HandshakeID] = h
	resp := map[string]any{"Handshake": handshakeView(h, now)}
	record(c, ResourceTypeHandshake, h.HandshakeID, resp)
	return resp, nil
}

func errStatusMismatch(h *core.Handshake, now time.Time, why string) error {
	return core.Errorf(409, "HandshakeStatusMismatch", "The invitation is invalid: %s is %s%s.", h.HandshakeID, statusAt(h, now), why)
}

// settleExpiry persists an expiry a read has already shown.
func settleExpiry(h *core.Handshake, now time.Time) {
	if statusAt(h, now) == HandshakeExpired && h.Status == HandshakePending {
		h.Status = HandshakeExpired
		h.ModifyTime = h.ExpireTime
	}
}

// acceptHandshake is called by the invited account: it joins the directory at the root as a
// cloud account. The record lands in the invited account's history, and its responseElements
// carry Handshake.TargetEntity; userIdentity.accountId is the new member either way.
func (s *service) acceptHandshake(c *core.Call) (any, error) {
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	h, err := handshakeFor(w, c)
	if err != nil {
		return nil, err
	}
	now := w.Now()
	settleExpiry(h, now)
	if !isTarget(w, h, c.Caller.AccountID) {
		return nil, errStatusMismatch(h, now, ": only the invited account can accept it")
	}
	if h.Status != HandshakePending {
		return nil, errStatusMismatch(h, now, "")
	}
	if w.Directory == nil || w.Directory.ResourceDirectoryID != h.ResourceDirectoryID {
		return nil, core.Errorf(404, "SpecifiedResourceDirectoryNotExists", "The specified resource directory does not exist: %s.", h.ResourceDirectoryID)
	}
	a := w.Accounts[c.Caller.AccountID]
	if a == nil {
		// The caller authenticated, so its account exists; keep the world consistent if a test made only a key.
		a = w.AddAccountLocked(c.Caller.AccountID, c.Caller.AccountID, "CloudAccount")
	}
	if a.InDirectory || a.AccountID == w.ManagementAccountID {
		return nil, core.Errorf(409, "NotSupport.AccountInAnotherResourceDirectory", "Your account is a management account for another resource directory or a member of another resource directory.")
	}
	if a.DisplayName == "" {
		a.DisplayName = a.AccountName
	}
	a.Type = "CloudAccount"
	w.JoinDirectoryLocked(a, w.Directory.RootFolderID, StatusInviteSuccess, "invited")
	h.Status = HandshakeAccepted
	h.ModifyTime = now
	resp := map[string]any{"Handshake": handshakeView(h, now)}
	record(c, ResourceTypeAccount, a.AccountID, resp)
	if c.Record != nil {
		c.Record.RecipientAccountID = a.AccountID
	}
	return resp, nil
}

func (s *service) declineHandshake(c *core.Call) (any, error) {
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	h, err := handshakeFor(w, c)
	if err != nil {
		return nil, err
	}
	now := w.Now()
	settleExpiry(h, now)
	if !isTarget(w, h, c.Caller.AccountID) {
		return nil, errStatusMismatch(h, now, ": only the invited account can decline it")
	}
	if h.Status != HandshakePending {
		return nil, errStatusMismatch(h, now, "")
	}
	h.Status = HandshakeDeclined
	h.ModifyTime = now
	resp := map[string]any{"Handshake": handshakeView(h, now)}
	record(c, ResourceTypeHandshake, h.HandshakeID, resp)
	return resp, nil
}

func (s *service) cancelHandshake(c *core.Call) (any, error) {
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	h, err := handshakeFor(w, c)
	if err != nil {
		return nil, err
	}
	now := w.Now()
	settleExpiry(h, now)
	if h.MasterAccountID != c.Caller.AccountID {
		return nil, errStatusMismatch(h, now, ": only the inviting management account can cancel it")
	}
	if readOnlyUser(c.Caller) {
		return nil, core.Errorf(403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.")
	}
	if h.Status != HandshakePending {
		return nil, errStatusMismatch(h, now, "")
	}
	h.Status = HandshakeCancelled
	h.ModifyTime = now
	resp := map[string]any{"Handshake": handshakeView(h, now)}
	record(c, ResourceTypeHandshake, h.HandshakeID, resp)
	return resp, nil
}

func (s *service) getHandshake(c *core.Call) (any, error) {
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	h, err := handshakeFor(w, c)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Handshake": handshakeView(h, w.Now())}, nil
}

// listHandshakesForAccount lists the invitations the caller sent (management) or received.
func (s *service) listHandshakesForAccount(c *core.Call) (any, error) {
	page, size, err := paging(c)
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	var mine []*core.Handshake
	for _, h := range w.Handshakes {
		if h.MasterAccountID == c.Caller.AccountID || isTarget(w, h, c.Caller.AccountID) {
			mine = append(mine, h)
		}
	}
	sort.Slice(mine, func(i, j int) bool {
		if !mine[i].CreateTime.Equal(mine[j].CreateTime) {
			return mine[i].CreateTime.Before(mine[j].CreateTime)
		}
		return mine[i].HandshakeID < mine[j].HandshakeID
	})
	now := w.Now()
	lo, hi := window(len(mine), page, size)
	out := make([]handshakeJSON, 0, hi-lo)
	for _, h := range mine[lo:hi] {
		out = append(out, handshakeView(h, now))
	}
	return map[string]any{
		"TotalCount": len(mine), "PageNumber": page, "PageSize": size,
		"Handshakes": map[string]any{"Handshake": out},
	}, nil
}
