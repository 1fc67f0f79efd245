// Package parsetest makes reports for tests and benchmarks of the report
// parser and its users.
package parsetest

import (
	"bytes"
	"fmt"
)

// AggregateXML is an aggregate report of n records in the shape the big
// reporters send, its report id id; record i comes from 198.51.(i/256).(i%256).
func AggregateXML(id, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>%d</report_id>
    <date_range>
      <begin>1764806400</begin>
      <end>1764892799</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>quarantine</p>
    <sp>quarantine</sp>
    <pct>100</pct>
  </policy_published>
`, id)
	for i := range n {
		fmt.Fprintf(&b, `  <record>
    <row>
      <source_ip>198.51.%d.%d</source_ip>
      <count>%d</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.com</domain>
        <result>pass</result>
        <selector>s1</selector>
      </dkim>
      <spf>
        <domain>bounce.example.com</domain>
        <result>softfail</result>
      </spf>
    </auth_results>
  </record>
`, i/256, i%256, i+1)
	}
	b.WriteString("</feedback>\n")
	return b.Bytes()
}
