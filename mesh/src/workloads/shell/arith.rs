//! `$(( … ))` arithmetic: integers, variables (bare or `$`-prefixed, unset = 0), `+ - * / %`,
//! comparisons, `&& || !`, parentheses.

/// Evaluates an expression; `lookup` gives a variable's value.
pub(crate) fn eval(expr: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<i64, String> {
    let tokens = tokenize(expr, lookup)?;
    let mut p = Parser { tokens, pos: 0 };
    if p.tokens.is_empty() {
        return Ok(0);
    }
    let v = p.binary(0)?;
    if p.pos < p.tokens.len() {
        return Err(format!("unexpected \"{}\"", p.tokens[p.pos].text()));
    }
    Ok(v)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(i64),
    Op(&'static str),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Self::Num(n) => n.to_string(),
            Self::Op(o) => (*o).to_owned(),
        }
    }
}

const OPS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "+", "-", "*", "/", "%", "<", ">", "(", ")",
    "!",
];

fn tokenize(expr: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse::<i64>()
                .map_err(|_| format!("bad number \"{text}\""))?;
            out.push(Tok::Num(n));
        } else if c == '$' || c == '_' || c.is_ascii_alphabetic() {
            if c == '$' {
                i += 1;
            }
            let braced = i < chars.len() && chars[i] == '{';
            if braced {
                i += 1;
            }
            let start = i;
            while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            if braced {
                if i < chars.len() && chars[i] == '}' {
                    i += 1;
                } else {
                    return Err("missing }".into());
                }
            }
            if name.is_empty() {
                return Err("bad variable".into());
            }
            let value = lookup(&name).unwrap_or_default();
            let value = value.trim();
            let n = if value.is_empty() {
                0
            } else {
                value
                    .parse::<i64>()
                    .map_err(|_| format!("bad number \"{value}\""))?
            };
            out.push(Tok::Num(n));
        } else {
            let rest: String = chars[i..].iter().take(2).collect();
            let op = OPS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| format!("unexpected \"{c}\""))?;
            i += op.chars().count();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "==" | "!=" => 3,
        "<" | ">" | "<=" | ">=" => 4,
        "<<" | ">>" => 5,
        "+" | "-" => 6,
        "*" | "/" | "%" => 7,
        _ => return None,
    })
}

impl Parser {
    fn binary(&mut self, min: u8) -> Result<i64, String> {
        let mut left = self.unary()?;
        loop {
            let Some(Tok::Op(op)) = self.tokens.get(self.pos).cloned() else {
                return Ok(left);
            };
            let Some(prec) = precedence(op) else {
                return Ok(left);
            };
            if prec < min {
                return Ok(left);
            }
            self.pos += 1;
            let right = self.binary(prec + 1)?;
            left = apply(op, left, right)?;
        }
    }

    fn unary(&mut self) -> Result<i64, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Tok::Op("-")) => {
                self.pos += 1;
                Ok(self.unary()?.wrapping_neg())
            }
            Some(Tok::Op("+")) => {
                self.pos += 1;
                self.unary()
            }
            Some(Tok::Op("!")) => {
                self.pos += 1;
                Ok(i64::from(self.unary()? == 0))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let v = self.binary(0)?;
                if self.tokens.get(self.pos) == Some(&Tok::Op(")")) {
                    self.pos += 1;
                    Ok(v)
                } else {
                    Err("missing )".into())
                }
            }
            Some(t) => Err(format!("unexpected \"{}\"", t.text())),
            None => Err("unexpected end of expression".into()),
        }
    }
}

fn apply(op: &str, a: i64, b: i64) -> Result<i64, String> {
    Ok(match op {
        "+" => a.wrapping_add(b),
        "-" => a.wrapping_sub(b),
        "*" => a.wrapping_mul(b),
        "/" | "%" if b == 0 => return Err("divide by zero".into()),
        "/" => a.wrapping_div(b),
        "%" => a.wrapping_rem(b),
        "<<" => a.wrapping_shl(u32::try_from(b & 63).unwrap_or(0)),
        ">>" => a.wrapping_shr(u32::try_from(b & 63).unwrap_or(0)),
        "<" => i64::from(a < b),
        ">" => i64::from(a > b),
        "<=" => i64::from(a <= b),
        ">=" => i64::from(a >= b),
        "==" => i64::from(a == b),
        "!=" => i64::from(a != b),
        "&&" => i64::from(a != 0 && b != 0),
        "||" => i64::from(a != 0 || b != 0),
        _ => return Err(format!("unknown operator {op}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calc(expr: &str) -> Result<i64, String> {
        eval(expr, &|name| (name == "i").then(|| "4".to_owned()))
    }

    #[test]
    fn precedence_and_variables() {
        assert_eq!(calc("1 + 2 * 3"), Ok(7));
        assert_eq!(calc("(1 + 2) * 3"), Ok(9));
        assert_eq!(calc("i + 1"), Ok(5));
        assert_eq!(calc("$i * $i - unset"), Ok(16));
        assert_eq!(calc("10 - 3 - 2"), Ok(5));
        assert_eq!(calc("i < 5 && i > 3"), Ok(1));
        assert_eq!(calc("-i % 3"), Ok(-1));
        assert!(calc("1 / 0").is_err());
        assert!(calc("1 +").is_err());
        assert!(calc("(1").is_err());
    }
}
