package sls

import "github.com/auditwarden/auditwarden/shared/localcloud/slsquery"

// parseQuery compiles a GetLogs/GetHistograms query with the shared SLS query engine.
func parseQuery(q string) (searchQuery, error) {
	sq, err := slsquery.Parse(q)
	if err != nil {
		return nil, err
	}
	return sq, nil
}
