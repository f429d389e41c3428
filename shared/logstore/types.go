// Package logstore manages SLS projects, Logstores and their indexes.
package logstore

// LogstoreSpec is a Logstore as the policy wants it.
type LogstoreSpec struct {
	Project   string
	Name      string
	TTLDays   int
	Shards    int  // only used on create
	AutoSplit bool // only used on create
	// IndexKeys are the fields that must be indexed (text, doc_value) so the report and incremental mode can query them.
	IndexKeys []string
}

// LogstoreState is a Logstore as observed.
type LogstoreState struct {
	Exists      bool
	TTLDays     int
	Shards      int
	IndexExists bool
	IndexKeys   []string
}

// MissingIndexKeys returns the wanted keys the observed index lacks.
func (s LogstoreSpec) MissingIndexKeys(st LogstoreState) []string {
	have := map[string]bool{}
	for _, k := range st.IndexKeys {
		have[k] = true
	}
	var missing []string
	for _, k := range s.IndexKeys {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	return missing
}
