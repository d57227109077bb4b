"""The rule pack checked: each rule's test events run on real stores, and pySigma's validators."""
