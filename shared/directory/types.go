// Package directory reads the Resource Directory: its members, their folders, tags and status.
package directory

import (
	"errors"
	"time"
)

// ErrNotMember is returned (wrapped) when an account is unknown or not in this directory.
var ErrNotMember = errors.New("not a member of the resource directory")

// Info is the directory itself.
type Info struct {
	ID                  string
	RootFolderID        string
	ManagementAccountID string
}

// Member is one account of the directory (the management account is never a Member).
type Member struct {
	AccountID   string
	DisplayName string
	Type        string // CloudAccount | ResourceAccount
	Status      string // CreateSuccess, InviteSuccess, CreateVerifying, PromoteVerifying, ...
	JoinMethod  string // invited | created
	FolderID    string
	FolderPath  []string // folder ids from the root to FolderID
	Tags        map[string]string
	JoinTime    time.Time
}

// Active members can be audited now.
func (m Member) Active() bool {
	switch m.Status {
	case "CreateSuccess", "InviteSuccess", "PromoteSuccess", "PromoteFailed", "PromoteExpired", "PromoteCancelled":
		return true
	}
	return false
}

// Pending members are still being created or promoted: skipped now, retried by the next run.
func (m Member) Pending() bool {
	return m.Status == "CreateVerifying" || m.Status == "PromoteVerifying"
}
