package logstore

import (
	"context"
	"errors"
	"fmt"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// SLS error codes this adapter acts on (reference/wire-sls-oss.md).
const (
	codeProjectNotExist      = "ProjectNotExist"
	codeProjectAlreadyExist  = "ProjectAlreadyExist"
	codeLogStoreNotExist     = "LogStoreNotExist"
	codeLogStoreAlreadyExist = "LogStoreAlreadyExist"
	codeIndexConfigNotExist  = "IndexConfigNotExist"
	codeIndexAlreadyExist    = "IndexAlreadyExist"
)

// Defaults applied when a LogstoreSpec leaves them zero.
const (
	defaultShards        = 2
	defaultMaxSplitShard = 64
)

// Client manages SLS projects, Logstores and indexes of one account through the log SDK.
// Every call goes through the session's Do (rate limit, retry of throttling and 5xx).
// Safe for concurrent use.
type Client struct {
	s   *cloud.Session
	sls sls.ClientInterface
}

// New returns a Client acting with the session's credentials (the central account, or a
// member session from ForAccount). A member session's credentials expire: make its Client per
// unit of work, as ForAccount advises for the session itself.
func New(s *cloud.Session) *Client {
	return &Client{s: s, sls: s.SLS()}
}

// ProjectExists reports whether the project exists and the caller can read it. A project of
// another account is an error (real SLS answers it with Unauthorized), not "missing".
func (c *Client) ProjectExists(ctx context.Context, name string) (bool, error) {
	_, err := c.getProject(ctx, name)
	switch {
	case err == nil:
		return true, nil
	case cloud.Code(err) == codeProjectNotExist:
		return false, nil
	}
	return false, fmt.Errorf("sls project %s: %w", name, err)
}

func (c *Client) getProject(ctx context.Context, name string) (*sls.LogProject, error) {
	var p *sls.LogProject
	err := c.s.Do(ctx, "sls:GetProject", func() error {
		var e error
		p, e = c.sls.GetProject(name)
		return e
	})
	return p, err
}

// CreateProject creates the project. Project names are global across all of SLS, so
// ProjectAlreadyExist is verified: the project must be readable by us (and, when SLS names an
// owner, owned by our account); otherwise the name belongs to someone else.
func (c *Client) CreateProject(ctx context.Context, name, description string) error {
	err := c.s.Do(ctx, "sls:CreateProject", func() error {
		_, e := c.sls.CreateProject(name, description)
		return e
	})
	if err == nil {
		return nil
	}
	if cloud.Code(err) != codeProjectAlreadyExist {
		return fmt.Errorf("sls project %s: create: %w", name, err)
	}
	p, gerr := c.getProject(ctx, name)
	if gerr != nil {
		return fmt.Errorf("sls project %s: the name is taken and the project is not readable by this account (project names are global in SLS; choose another): %w", name, gerr)
	}
	if p.Owner != "" {
		me, aerr := c.s.CallerAccount(ctx)
		if aerr != nil {
			return fmt.Errorf("sls project %s: exists; checking its owner: %w", name, aerr)
		}
		if p.Owner != me {
			return fmt.Errorf("sls project %s: exists but is owned by account %s, not %s (project names are global in SLS; choose another)", name, p.Owner, me)
		}
	}
	return nil
}

// ObserveLogstore reads a Logstore and its index. A missing Logstore or project is
// Exists=false without an error.
func (c *Client) ObserveLogstore(ctx context.Context, project, name string) (LogstoreState, error) {
	ls, err := c.getLogstore(ctx, project, name)
	if err != nil {
		if code := cloud.Code(err); code == codeLogStoreNotExist || code == codeProjectNotExist {
			return LogstoreState{}, nil
		}
		return LogstoreState{}, fmt.Errorf("sls logstore %s/%s: %w", project, name, err)
	}
	st := LogstoreState{Exists: true, TTLDays: ls.TTL, Shards: ls.ShardCount}
	raw, ok, err := c.getIndex(ctx, project, name)
	if err != nil {
		return LogstoreState{}, fmt.Errorf("sls logstore %s/%s: index: %w", project, name, err)
	}
	if ok {
		keys, perr := IndexedKeys(raw)
		if perr != nil {
			return LogstoreState{}, fmt.Errorf("sls logstore %s/%s: index: %w", project, name, perr)
		}
		st.IndexExists, st.IndexKeys = true, keys
	}
	return st, nil
}

func (c *Client) getLogstore(ctx context.Context, project, name string) (*sls.LogStore, error) {
	var ls *sls.LogStore
	err := c.s.Do(ctx, "sls:GetLogStore", func() error {
		var e error
		ls, e = c.sls.GetLogStore(project, name)
		return e
	})
	return ls, err
}

// getIndex returns the index document as SLS sent it; ok is false when there is none.
func (c *Client) getIndex(ctx context.Context, project, name string) (raw string, ok bool, err error) {
	err = c.s.Do(ctx, "sls:GetIndex", func() error {
		var e error
		raw, e = c.sls.GetIndexString(project, name)
		return e
	})
	if err != nil {
		if cloud.Code(err) == codeIndexConfigNotExist {
			return "", false, nil
		}
		return "", false, err
	}
	return raw, true, nil
}

func (s LogstoreSpec) validate() error {
	switch {
	case s.Project == "":
		return errors.New("logstore spec: Project is empty")
	case s.Name == "":
		return errors.New("logstore spec: Name is empty")
	case s.TTLDays < 1 || s.TTLDays > 3650:
		return fmt.Errorf("logstore spec %s/%s: TTLDays %d must be from 1 to 3650", s.Project, s.Name, s.TTLDays)
	case s.Shards < 0 || s.Shards > 256:
		return fmt.Errorf("logstore spec %s/%s: Shards %d must be from 0 (default %d) to 256", s.Project, s.Name, s.Shards, defaultShards)
	}
	for i, k := range s.IndexKeys {
		if err := checkIndexKey(k); err != nil {
			return fmt.Errorf("logstore spec %s/%s: IndexKeys[%d]: %w", s.Project, s.Name, i, err)
		}
	}
	return nil
}

// CreateLogstore creates the Logstore and then its index. LogStoreAlreadyExist (a concurrent
// run, or a retry of a create whose answer was lost) is verified by reading the Logstore; it is
// then brought to the spec's TTL and index like any existing one.
func (c *Client) CreateLogstore(ctx context.Context, spec LogstoreSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	shards := spec.Shards
	if shards == 0 {
		shards = defaultShards
	}
	want := &sls.LogStore{Name: spec.Name, TTL: spec.TTLDays, ShardCount: shards, AutoSplit: spec.AutoSplit,
		// appendMeta adds the receive time and client IP to each log: provenance an audit store keeps.
		AppendMeta: true}
	if spec.AutoSplit {
		want.MaxSplitShard = defaultMaxSplitShard
	}
	err := c.s.Do(ctx, "sls:CreateLogStore", func() error { return c.sls.CreateLogStoreV2(spec.Project, want) })
	if err != nil {
		if cloud.Code(err) != codeLogStoreAlreadyExist {
			return fmt.Errorf("sls logstore %s/%s: create: %w", spec.Project, spec.Name, err)
		}
		st, oerr := c.ObserveLogstore(ctx, spec.Project, spec.Name)
		if oerr != nil {
			return oerr
		}
		if !st.Exists {
			return fmt.Errorf("sls logstore %s/%s: create said it exists but it cannot be read: %w", spec.Project, spec.Name, err)
		}
		if st.TTLDays != spec.TTLDays {
			if err := c.UpdateLogstore(ctx, spec); err != nil {
				return err
			}
		}
	}
	_, err = c.EnsureIndex(ctx, spec)
	return err
}

// UpdateLogstore sets the Logstore's TTL, keeping every other setting as it is: the Logstore is
// read and written back whole (UpdateLogStore replaces the configuration). A Logstore already
// at the TTL is not written.
func (c *Client) UpdateLogstore(ctx context.Context, spec LogstoreSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	ls, err := c.getLogstore(ctx, spec.Project, spec.Name)
	if err != nil {
		return fmt.Errorf("sls logstore %s/%s: update: read: %w", spec.Project, spec.Name, err)
	}
	if ls.TTL == spec.TTLDays {
		return nil
	}
	ls.TTL = spec.TTLDays
	// The read-only times would be sent back otherwise.
	ls.CreateTime, ls.LastModifyTime = 0, 0
	err = c.s.Do(ctx, "sls:UpdateLogStore", func() error { return c.sls.UpdateLogStoreV2(spec.Project, ls) })
	if err != nil {
		return fmt.Errorf("sls logstore %s/%s: update ttl to %d days: %w", spec.Project, spec.Name, spec.TTLDays, err)
	}
	return nil
}

// EnsureIndex makes the Logstore's index cover spec.IndexKeys: it creates the index when there
// is none, adds missing keys to an existing one (keeping every key and setting already there),
// and writes nothing when the index is complete. changed reports whether it wrote.
func (c *Client) EnsureIndex(ctx context.Context, spec LogstoreSpec) (changed bool, err error) {
	if spec.Project == "" || spec.Name == "" {
		return false, errors.New("logstore spec: Project and Name are required")
	}
	for attempt := 0; ; attempt++ {
		raw, ok, err := c.getIndex(ctx, spec.Project, spec.Name)
		if err != nil {
			return false, fmt.Errorf("sls logstore %s/%s: index: %w", spec.Project, spec.Name, err)
		}
		var doc []byte
		if ok {
			doc, changed, err = MergeIndex(raw, spec.IndexKeys)
			if err != nil {
				return false, fmt.Errorf("sls logstore %s/%s: index: %w", spec.Project, spec.Name, err)
			}
			if !changed {
				return false, nil
			}
			err = c.s.Do(ctx, "sls:UpdateIndex", func() error { return c.sls.UpdateIndexString(spec.Project, spec.Name, string(doc)) })
		} else {
			if doc, err = NewIndex(spec.IndexKeys); err != nil {
				return false, fmt.Errorf("sls logstore %s/%s: index: %w", spec.Project, spec.Name, err)
			}
			err = c.s.Do(ctx, "sls:CreateIndex", func() error { return c.sls.CreateIndexString(spec.Project, spec.Name, string(doc)) })
		}
		if err == nil {
			return true, nil
		}
		// The index appeared or vanished between the read and the write (another writer, or a
		// retried create whose first answer was lost): read it again, once.
		code := cloud.Code(err)
		if attempt == 0 && (code == codeIndexAlreadyExist || code == codeIndexConfigNotExist) {
			continue
		}
		return false, fmt.Errorf("sls logstore %s/%s: write index: %w", spec.Project, spec.Name, err)
	}
}
