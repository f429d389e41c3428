// Package cloud is how auditwarden's functions reach Alibaba Cloud, or localcloud in its place.
//
// It provides credentials (from the function's context or the environment, never printed),
// endpoints (real per region, or localcloud's from AUDITWARDEN_LOCALCLOUD), a Session that builds
// the official SDK clients, AssumeRole into Resource Directory members with a cache refreshed
// before expiry, one retry wrapper (Do) with per-API rate limits and exponential backoff with
// full jitter, error classification across the three SDKs, and bounded concurrency (Parallel).
//
// The SDKs do not retry throttling, so every adapter call goes through Session.Do:
//
//	err := s.Do(ctx, "resourcemanager:ListAccounts", func() error {
//		resp, err = rm.ListAccounts(req)
//		return err
//	})
package cloud
