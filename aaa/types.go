package aaa

import "strconv"

// MAPolicy says when a response must carry a valid Message-Authenticator
// (RFC 3579 section 3.2). A Message-Authenticator that is present is
// always verified; the policy decides whether its absence is fatal. This
// is the Blast-RADIUS mitigation (CVE-2024-3596).
type MAPolicy uint8

// Message-Authenticator policies.
const (
	// MAAuto requires it from a server once that server has sent one
	// valid Message-Authenticator. It is the default.
	MAAuto MAPolicy = iota
	// MANever never requires it (servers such as Debian's FreeRADIUS 3.2.1
	// that never send it), but still checks it when present.
	MANever
	// MAAlways drops every response without a valid one.
	MAAlways
)

func (p MAPolicy) String() string {
	switch p {
	case MAAuto:
		return "auto"
	case MANever:
		return "never"
	case MAAlways:
		return "always"
	}
	return "MAPolicy(" + strconv.Itoa(int(p)) + ")"
}

// ParseMAPolicy reads the configuration spelling of a policy.
func ParseMAPolicy(s string) (MAPolicy, error) {
	switch s {
	case "", "auto":
		return MAAuto, nil
	case "never", "no":
		return MANever, nil
	case "always", "yes":
		return MAAlways, nil
	}
	return 0, &ConfigError{Field: "require_message_authenticator", Msg: "want auto, never or always, got " + strconv.Quote(s)}
}

// ConfigError names the configuration field that is wrong.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return "aaa: " + e.Field + ": " + e.Msg }

// AcctStatus is the Acct-Status-Type of RFC 2866 section 5.1.
type AcctStatus uint32

// Acct-Status-Type values.
const (
	AcctStart         AcctStatus = 1
	AcctStop          AcctStatus = 2
	AcctInterimUpdate AcctStatus = 3
	AcctOn            AcctStatus = 7
	AcctOff           AcctStatus = 8
)

func (s AcctStatus) String() string {
	switch s {
	case AcctStart:
		return "Start"
	case AcctStop:
		return "Stop"
	case AcctInterimUpdate:
		return "Interim-Update"
	case AcctOn:
		return "Accounting-On"
	case AcctOff:
		return "Accounting-Off"
	}
	return "AcctStatus(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// TerminateCause is the Acct-Terminate-Cause of RFC 2866 section 5.10.
type TerminateCause uint32

// Acct-Terminate-Cause values.
const (
	UserRequest        TerminateCause = 1
	LostCarrier        TerminateCause = 2
	LostService        TerminateCause = 3
	IdleTimeout        TerminateCause = 4
	SessionTimeout     TerminateCause = 5
	AdminReset         TerminateCause = 6
	AdminReboot        TerminateCause = 7
	PortError          TerminateCause = 8
	NASError           TerminateCause = 9
	NASRequest         TerminateCause = 10
	NASReboot          TerminateCause = 11
	PortUnneeded       TerminateCause = 12
	PortPreempted      TerminateCause = 13
	PortSuspended      TerminateCause = 14
	ServiceUnavailable TerminateCause = 15
	Callback           TerminateCause = 16
	UserError          TerminateCause = 17
	HostRequest        TerminateCause = 18
)

var terminateCauseNames = [...]string{
	UserRequest: "User-Request", LostCarrier: "Lost-Carrier", LostService: "Lost-Service",
	IdleTimeout: "Idle-Timeout", SessionTimeout: "Session-Timeout", AdminReset: "Admin-Reset",
	AdminReboot: "Admin-Reboot", PortError: "Port-Error", NASError: "NAS-Error",
	NASRequest: "NAS-Request", NASReboot: "NAS-Reboot", PortUnneeded: "Port-Unneeded",
	PortPreempted: "Port-Preempted", PortSuspended: "Port-Suspended",
	ServiceUnavailable: "Service-Unavailable", Callback: "Callback", UserError: "User-Error",
	HostRequest: "Host-Request",
}

func (c TerminateCause) String() string {
	if int(c) < len(terminateCauseNames) && terminateCauseNames[c] != "" {
		return terminateCauseNames[c]
	}
	return "TerminateCause(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// ErrorCause is the Error-Cause of RFC 3576 section 3.1 sent in a NAK.
type ErrorCause uint32

// Error-Cause values used by the CoA server.
const (
	CauseUnsupportedAttribute       ErrorCause = 401
	CauseMissingAttribute           ErrorCause = 402
	CauseNASIdentificationMismatch  ErrorCause = 403
	CauseInvalidRequest             ErrorCause = 404
	CauseUnsupportedService         ErrorCause = 405
	CauseAdministrativelyProhibited ErrorCause = 501
	CauseSessionContextNotFound     ErrorCause = 503
	CauseSessionContextNotRemovable ErrorCause = 504
	CauseResourcesUnavailable       ErrorCause = 506
)

func (c ErrorCause) String() string {
	switch c {
	case CauseUnsupportedAttribute:
		return "Unsupported-Attribute"
	case CauseMissingAttribute:
		return "Missing-Attribute"
	case CauseNASIdentificationMismatch:
		return "NAS-Identification-Mismatch"
	case CauseInvalidRequest:
		return "Invalid-Request"
	case CauseUnsupportedService:
		return "Unsupported-Service"
	case CauseAdministrativelyProhibited:
		return "Administratively-Prohibited"
	case CauseSessionContextNotFound:
		return "Session-Context-Not-Found"
	case CauseSessionContextNotRemovable:
		return "Session-Context-Not-Removable"
	case CauseResourcesUnavailable:
		return "Resources-Unavailable"
	}
	return "ErrorCause(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// ServiceType is the Service-Type of RFC 2865 section 5.6.
type ServiceType uint32

// Service-Type values used by a BRAS.
const (
	ServiceFramedUser    ServiceType = 2
	ServiceOutbound      ServiceType = 5
	ServiceAuthorizeOnly ServiceType = 17 // RFC 3576 section 2.2
)

func (s ServiceType) String() string {
	switch s {
	case ServiceFramedUser:
		return "Framed-User"
	case ServiceOutbound:
		return "Outbound-User"
	case ServiceAuthorizeOnly:
		return "Authorize-Only"
	}
	return "ServiceType(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// NASPortType is the NAS-Port-Type of RFC 2865 section 5.41.
type NASPortType uint32

// NAS-Port-Type values used by a BRAS.
const (
	PortVirtual  NASPortType = 5
	PortEthernet NASPortType = 15
)

func (t NASPortType) String() string {
	switch t {
	case PortVirtual:
		return "Virtual"
	case PortEthernet:
		return "Ethernet"
	}
	return "NASPortType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// TunnelType is the Tunnel-Type of RFC 2868 section 3.1.
type TunnelType uint32

// TunnelL2TP is the only tunnel type bras speaks.
const TunnelL2TP TunnelType = 3

func (t TunnelType) String() string {
	if t == TunnelL2TP {
		return "L2TP"
	}
	return "TunnelType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// TunnelMedium is the Tunnel-Medium-Type of RFC 2868 section 3.2.
type TunnelMedium uint32

// Tunnel media.
const (
	MediumIPv4 TunnelMedium = 1
	MediumIPv6 TunnelMedium = 2
)

func (m TunnelMedium) String() string {
	switch m {
	case MediumIPv4:
		return "IPv4"
	case MediumIPv6:
		return "IPv6"
	}
	return "TunnelMedium(" + strconv.FormatUint(uint64(m), 10) + ")"
}
