package accounting

const childEnv = "BRAS_ACCT_CHILD"

func runChild() int { return 0 }
