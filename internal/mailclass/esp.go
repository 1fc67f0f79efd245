package mailclass

import (
	"slices"
	"strings"
)

// ESPDomains are the domains of email service providers and hosted mail
// services whose SPF or DKIM pass in a DMARC report marks the mail as
// sent by the provider's network (the reports collector's `esp` source
// class): their bounce (envelope) domains and their own DKIM signing
// domains. A subdomain matches too. No PTR or ASN lookup is involved:
// the rule uses only what a report says.
var ESPDomains = []string{
	"amazonses.com",       // Amazon SES
	"sendgrid.net",        // Twilio SendGrid
	"mailgun.org",         // Mailgun
	"mailgun.net",         //
	"mcsv.net",            // Mailchimp
	"mandrillapp.com",     // Mailchimp Transactional
	"rsgsv.net",           // Mailchimp
	"sparkpostmail.com",   // SparkPost
	"mtasv.net",           // Postmark
	"mailjet.com",         // Mailjet
	"sendinblue.com",      // Brevo
	"brevo.com",           //
	"hubspotemail.net",    // HubSpot
	"salesforce.com",      // Salesforce
	"exacttarget.com",     // Salesforce Marketing Cloud
	"zendesk.com",         // Zendesk
	"mailersend.net",      // MailerSend
	"smtp2go.com",         // SMTP2GO
	"constantcontact.com", // Constant Contact
	"freshdesk.com",       // Freshdesk
	"onmicrosoft.com",     // Microsoft 365: a tenant's default DKIM domain
	"gappssmtp.com",       // Google Workspace: the default DKIM domain
}

// IsESPDomain says whether domain is one of ESPDomains or under one.
func IsESPDomain(domain string) bool {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	return slices.ContainsFunc(ESPDomains, func(e string) bool {
		return domain == e || strings.HasSuffix(domain, "."+e)
	})
}
