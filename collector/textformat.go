package collector

import (
	dto "github.com/prometheus/client_model/go"

	"github.com/lvs-sidecar/lvs-sidecar/internal/promtext"
)

// appendLabels appends pairs rendered as the text format wants them:
// {name="value",...}, values escaped. Label names need no escaping: they are
// the collector's own, all valid legacy names.
func appendLabels(b []byte, pairs []*dto.LabelPair) []byte {
	sep := byte('{')
	for _, p := range pairs {
		b = append(b, sep)
		b = append(b, p.GetName()...)
		b = append(b, '=', '"')
		b = promtext.AppendEscaped(b, p.GetValue())
		b = append(b, '"')
		sep = ','
	}
	return append(b, '}')
}
