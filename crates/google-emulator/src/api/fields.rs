//! Google's partial-response `fields` selector: `nextPageToken,files(id,name)`, `files/id`, `*`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub sub: Option<Vec<Field>>,
}

/// Parses a selector; `Err` names the offending part.
pub fn parse(s: &str) -> Result<Vec<Field>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let fields = parse_list(&chars, &mut pos)?;
    if pos != chars.len() {
        return Err(s.to_string());
    }
    Ok(fields)
}

fn parse_list(c: &[char], pos: &mut usize) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    loop {
        while *pos < c.len() && c[*pos] == ' ' {
            *pos += 1;
        }
        let start = *pos;
        while *pos < c.len() && !matches!(c[*pos], ',' | '(' | ')' | '/' | ' ') {
            *pos += 1;
        }
        let name: String = c[start..*pos].iter().collect();
        if name.is_empty() {
            return Err(c[start..].iter().collect());
        }
        let mut field = Field { name, sub: None };
        if *pos < c.len() && c[*pos] == '(' {
            *pos += 1;
            field.sub = Some(parse_list(c, pos)?);
            if *pos >= c.len() || c[*pos] != ')' {
                return Err(field.name);
            }
            *pos += 1;
        } else if *pos < c.len() && c[*pos] == '/' {
            *pos += 1;
            let start = *pos;
            while *pos < c.len() && !matches!(c[*pos], ',' | ')') {
                *pos += 1;
            }
            let rest: String = c[start..*pos].iter().collect();
            field.sub = Some(parse(&rest)?);
        }
        out.push(field);
        while *pos < c.len() && c[*pos] == ' ' {
            *pos += 1;
        }
        if *pos < c.len() && c[*pos] == ',' {
            *pos += 1;
            continue;
        }
        return Ok(out);
    }
}

/// Checks every name against `allowed(depth_path)`; returns the first unknown one.
pub fn unknown(
    fields: &[Field],
    known: &dyn Fn(&str, &str) -> bool,
    parent: &str,
) -> Option<String> {
    for f in fields {
        if f.name != "*" && !known(parent, &f.name) {
            return Some(if parent.is_empty() {
                f.name.clone()
            } else {
                format!("{parent}/{}", f.name)
            });
        }
        if let Some(sub) = &f.sub {
            if let Some(bad) = unknown(sub, known, &f.name) {
                return Some(bad);
            }
        }
    }
    None
}

/// Keeps only the selected members of `value`.
pub fn apply(value: &Value, fields: &[Field]) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| apply(v, fields)).collect()),
        Value::Object(obj) => {
            if fields.iter().any(|f| f.name == "*" && f.sub.is_none()) {
                return value.clone();
            }
            let mut out = Map::new();
            for f in fields {
                if let Some(v) = obj.get(&f.name) {
                    let v = match &f.sub {
                        Some(sub) => apply(v, sub),
                        None => v.clone(),
                    };
                    out.insert(f.name.clone(), v);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Like [`apply`], consuming `value` (no copies).
pub fn apply_owned(value: Value, fields: &[Field]) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| apply_owned(v, fields)).collect())
        }
        Value::Object(mut obj) => {
            if fields.iter().any(|f| f.name == "*" && f.sub.is_none()) {
                return Value::Object(obj);
            }
            let mut out = Map::new();
            for f in fields {
                if let Some(v) = obj.remove(&f.name) {
                    let v = match &f.sub {
                        Some(sub) => apply_owned(v, sub),
                        None => v,
                    };
                    out.insert(f.name.clone(), v);
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_nested_fields() {
        let f = parse("nextPageToken, files(id,name)").unwrap();
        let v = json!({"kind": "k", "nextPageToken": "t", "files": [{"id": "1", "name": "n", "size": "3"}]});
        assert_eq!(
            apply(&v, &f),
            json!({"nextPageToken": "t", "files": [{"id": "1", "name": "n"}]})
        );
        let f = parse("files/id").unwrap();
        assert_eq!(apply(&v, &f), json!({"files": [{"id": "1"}]}));
        assert!(parse("files(id").is_err());
    }
}
