package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	os.WriteFile(file, []byte("apiVersion: auditwarden/v1\n"), 0o600)
	cases := []struct {
		name                         string
		bucket, prefix, inline, path string
		wantErr, wantPrefix, wantDoc string
	}{
		{name: "bucket required", wantErr: EnvStateBucket},
		{name: "defaults", bucket: "b", wantPrefix: "auditwarden"},
		{name: "inline policy wins", bucket: "b", inline: "inline", path: file, wantPrefix: "auditwarden", wantDoc: "inline"},
		{name: "policy file", bucket: "b", prefix: "p", path: file, wantPrefix: "p", wantDoc: "apiVersion"},
		{name: "missing file is no deployed policy", bucket: "b", path: filepath.Join(dir, "absent.yaml"), wantPrefix: "auditwarden"},
		{name: "unreadable file is an error", bucket: "b", path: dir, wantErr: EnvPolicyFile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvStateBucket, tc.bucket)
			t.Setenv(EnvStatePrefix, tc.prefix)
			t.Setenv(EnvPolicy, tc.inline)
			t.Setenv(EnvPolicyFile, tc.path)
			cfg, err := FromEnv()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.StatePrefix != tc.wantPrefix || !strings.HasPrefix(string(cfg.DeployedPolicy), tc.wantDoc) || (tc.wantDoc == "" && len(cfg.DeployedPolicy) > 0) {
				t.Fatalf("config %+v", cfg)
			}
		})
	}
}
