"""Code formats and verifiers: county offline pass, EU DCC, online token; trust lists."""
