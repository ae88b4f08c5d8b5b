package web

import (
	"fmt"
	"os"

	toolkit "github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// readWebConfig reads --web.config.file the way exporter-toolkit does (the
// same type, the same strict YAML), for its basic_auth_users and whether
// it serves TLS.
func readWebConfig(path string) (*toolkit.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c toolkit.Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("invalid web configuration: %w", err)
	}
	return &c, nil
}
