package ppp

import "fmt"

// State is a state of the option-negotiation automaton, RFC 1661 section 4.2.
type State uint8

// The ten states of RFC 1661 section 4.2, numbered as in the table of 4.1.
const (
	Initial State = iota
	Starting
	Closed
	Stopped
	Closing
	Stopping
	ReqSent
	AckRcvd
	AckSent
	Opened
)

var stateNames = [...]string{"Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping", "Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Event is an event of the automaton, RFC 1661 section 4.3.
type Event uint8

// Events, in the row order of the table of RFC 1661 section 4.1.
const (
	Up       Event = iota // lower layer is Up
	Down                  // lower layer is Down
	Open                  // administrative Open
	Close                 // administrative Close
	TOPlus                // Timeout with counter > 0
	TOMinus               // Timeout with counter expired
	RCRPlus               // Receive-Configure-Request (Good)
	RCRMinus              // Receive-Configure-Request (Bad)
	RCA                   // Receive-Configure-Ack
	RCN                   // Receive-Configure-Nak/Rej
	RTR                   // Receive-Terminate-Request
	RTA                   // Receive-Terminate-Ack
	RUC                   // Receive-Unknown-Code
	RXJPlus               // Receive-Code-Reject (permitted) or Receive-Protocol-Reject
	RXJMinus              // Receive-Code-Reject (catastrophic) or Receive-Protocol-Reject
	RXR                   // Receive-Echo-Request, Receive-Echo-Reply, Receive-Discard-Request
	numEvents
)

var eventNames = [...]string{"Up", "Down", "Open", "Close", "TO+", "TO-", "RCR+", "RCR-", "RCA", "RCN", "RTR", "RTA", "RUC", "RXJ+", "RXJ-", "RXR"}

func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// Action is an action of the automaton, RFC 1661 section 4.4.
type Action uint8

// Actions.
const (
	TLU Action = iota + 1 // This-Layer-Up
	TLD                   // This-Layer-Down
	TLS                   // This-Layer-Started
	TLF                   // This-Layer-Finished
	IRC                   // Initialize-Restart-Count
	ZRC                   // Zero-Restart-Count
	SCR                   // Send-Configure-Request
	SCA                   // Send-Configure-Ack
	SCN                   // Send-Configure-Nak/Rej
	STR                   // Send-Terminate-Request
	STA                   // Send-Terminate-Ack
	SCJ                   // Send-Code-Reject
	SER                   // Send-Echo-Reply
)

var actionNames = [...]string{"", "tlu", "tld", "tls", "tlf", "irc", "zrc", "scr", "sca", "scn", "str", "sta", "scj", "ser"}

func (a Action) String() string {
	if int(a) < len(actionNames) && a != 0 {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// cell is one entry of the transition table: the actions in the order the RFC
// lists them and the new state. ok is false for an illegal transition ('-').
type cell struct {
	acts []Action
	next State
	ok   bool
}

func c(next State, acts ...Action) cell { return cell{acts: acts, next: next, ok: true} }

// illegal marks a '-' entry of the table.
var illegal = cell{}

// table is RFC 1661 section 4.1 transcribed literally: table[event][state].
// Footnotes: 'r' (restart option) and 'p' (passive option) are not taken, 'x'
// (crossed connection) needs no extra action.
var table = [numEvents][10]cell{
	//          Initial            Starting              Closed                Stopped                   Closing           Stopping          Req-Sent              Ack-Rcvd            Ack-Sent              Opened
	Up:       {c(Closed), c(ReqSent, IRC, SCR), illegal, illegal, illegal, illegal, illegal, illegal, illegal, illegal},
	Down:     {illegal, illegal, c(Initial), c(Starting, TLS), c(Initial), c(Starting), c(Starting), c(Starting), c(Starting), c(Starting, TLD)},
	Open:     {c(Starting, TLS), c(Starting), c(ReqSent, IRC, SCR), c(Stopped), c(Stopping), c(Stopping), c(ReqSent), c(AckRcvd), c(AckSent), c(Opened)},
	Close:    {c(Initial), c(Initial, TLF), c(Closed), c(Closed), c(Closing), c(Closing), c(Closing, IRC, STR), c(Closing, IRC, STR), c(Closing, IRC, STR), c(Closing, TLD, IRC, STR)},
	TOPlus:   {illegal, illegal, illegal, illegal, c(Closing, STR), c(Stopping, STR), c(ReqSent, SCR), c(ReqSent, SCR), c(AckSent, SCR), illegal},
	TOMinus:  {illegal, illegal, illegal, illegal, c(Closed, TLF), c(Stopped, TLF), c(Stopped, TLF), c(Stopped, TLF), c(Stopped, TLF), illegal},
	RCRPlus:  {illegal, illegal, c(Closed, STA), c(AckSent, IRC, SCR, SCA), c(Closing), c(Stopping), c(AckSent, SCA), c(Opened, SCA, TLU), c(AckSent, SCA), c(AckSent, TLD, SCR, SCA)},
	RCRMinus: {illegal, illegal, c(Closed, STA), c(ReqSent, IRC, SCR, SCN), c(Closing), c(Stopping), c(ReqSent, SCN), c(AckRcvd, SCN), c(ReqSent, SCN), c(ReqSent, TLD, SCR, SCN)},
	RCA:      {illegal, illegal, c(Closed, STA), c(Stopped, STA), c(Closing), c(Stopping), c(AckRcvd, IRC), c(ReqSent, SCR), c(Opened, IRC, TLU), c(ReqSent, TLD, SCR)},
	RCN:      {illegal, illegal, c(Closed, STA), c(Stopped, STA), c(Closing), c(Stopping), c(ReqSent, IRC, SCR), c(ReqSent, SCR), c(AckSent, IRC, SCR), c(ReqSent, TLD, SCR)},
	RTR:      {illegal, illegal, c(Closed, STA), c(Stopped, STA), c(Closing, STA), c(Stopping, STA), c(ReqSent, STA), c(ReqSent, STA), c(ReqSent, STA), c(Stopping, TLD, ZRC, STA)},
	RTA:      {illegal, illegal, c(Closed), c(Stopped), c(Closed, TLF), c(Stopped, TLF), c(ReqSent), c(ReqSent), c(AckSent), c(ReqSent, TLD, SCR)},
	RUC:      {illegal, illegal, c(Closed, SCJ), c(Stopped, SCJ), c(Closing, SCJ), c(Stopping, SCJ), c(ReqSent, SCJ), c(AckRcvd, SCJ), c(AckSent, SCJ), c(Opened, SCJ)},
	RXJPlus:  {illegal, illegal, c(Closed), c(Stopped), c(Closing), c(Stopping), c(ReqSent), c(ReqSent), c(AckSent), c(Opened)},
	RXJMinus: {illegal, illegal, c(Closed, TLF), c(Stopped, TLF), c(Closed, TLF), c(Stopped, TLF), c(Stopped, TLF), c(Stopped, TLF), c(Stopped, TLF), c(Stopping, TLD, IRC, STR)},
	RXR:      {illegal, illegal, c(Closed), c(Stopped), c(Closing), c(Stopping), c(ReqSent), c(AckRcvd), c(AckSent), c(Opened, SER)},
}

// FSM is the option-negotiation automaton of RFC 1661 section 4, pure: Handle
// returns the actions to take and the caller does the I/O and runs the restart
// timer. FSM keeps the restart counter of section 4.6 itself, so that the
// caller can turn a timer expiry into TO+ or TO- with Timeout.
type FSM struct {
	State State
	// MaxConfigure and MaxTerminate are the counter limits of RFC 1661
	// section 4.6 (defaults 10 and 2 when zero).
	MaxConfigure int
	MaxTerminate int
	// Restarts is the restart counter.
	Restarts int
}

// Handle applies ev to the automaton and returns the actions to perform, in
// the order RFC 1661 section 4.1 lists them. The counter actions (irc, zrc)
// are applied by Handle and also returned; each scr and str decrements the
// counter (section 4.6). An illegal event (a '-' in the table) changes nothing
// and returns nil, ok=false.
func (f *FSM) Handle(ev Event) (acts []Action, ok bool) {
	if ev >= numEvents || f.State > Opened {
		return nil, false
	}
	e := table[ev][f.State]
	if !e.ok {
		return nil, false
	}
	for _, a := range e.acts {
		switch a {
		case IRC:
			// The counter is set for what the cell sends next: Max-Terminate
			// before a Terminate-Request, Max-Configure otherwise.
			f.Restarts = f.maxConfigure()
			for _, b := range e.acts {
				if b == STR {
					f.Restarts = f.maxTerminate()
				}
			}
		case ZRC:
			f.Restarts = 0
		case SCR, STR:
			if f.Restarts > 0 {
				f.Restarts--
			}
		}
	}
	f.State = e.next
	return e.acts, true
}

// Timeout is the event a restart-timer expiry makes: TO+ while the restart
// counter is above zero, TO- when it is spent (RFC 1661 section 4.3).
func (f *FSM) Timeout() Event {
	if f.Restarts > 0 {
		return TOPlus
	}
	return TOMinus
}

// TimerRunning reports whether the restart timer runs in the current state
// (RFC 1661 section 4.2: Closing, Stopping, Req-Sent, Ack-Rcvd, Ack-Sent).
func (f *FSM) TimerRunning() bool {
	switch f.State {
	case Closing, Stopping, ReqSent, AckRcvd, AckSent:
		return true
	}
	return false
}

func (f *FSM) maxConfigure() int {
	if f.MaxConfigure > 0 {
		return f.MaxConfigure
	}
	return 10
}

func (f *FSM) maxTerminate() int {
	if f.MaxTerminate > 0 {
		return f.MaxTerminate
	}
	return 2
}
