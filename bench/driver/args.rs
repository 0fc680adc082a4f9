//! The driver's command line: `--flag value` pairs, and how long a timed command lasts.

use std::collections::HashMap;

/// `--flag value` pairs; a flag may repeat.
pub struct Args(HashMap<String, Vec<String>>);

impl Args {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --flag, got {flag:?}"))?;
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            map.entry(name.to_string()).or_default().push(value.clone());
        }
        Ok(Self(map))
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.get(name).cloned().unwrap_or_default()
    }

    pub fn opt(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.last()).cloned()
    }

    pub fn get(&self, name: &str) -> Result<String, String> {
        self.opt(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    pub fn num(&self, name: &str) -> Result<usize, String> {
        self.get(name)?
            .parse()
            .map_err(|_| format!("--{name} must be a number"))
    }

    pub fn accounts(&self) -> Result<Vec<String>, String> {
        let accounts = self.all("account");
        if accounts.is_empty() {
            return Err("at least one --account is required".into());
        }
        Ok(accounts)
    }

    /// `--pid NAME=PID`, repeatable.
    pub fn pids(&self) -> Result<Vec<(String, u32)>, String> {
        self.all("pid")
            .iter()
            .map(|p| {
                let (name, pid) = p
                    .split_once('=')
                    .ok_or_else(|| format!("--pid wants NAME=PID, got {p:?}"))?;
                Ok((
                    name.to_string(),
                    pid.parse().map_err(|_| format!("bad pid in {p:?}"))?,
                ))
            })
            .collect()
    }
}

/// How long the timed part lasts: a count of operations, or a time.
#[derive(Clone, Copy)]
pub enum Limit {
    Count(usize),
    Secs(f64),
}

impl Limit {
    pub fn of(a: &Args) -> Result<Self, String> {
        match (a.opt("count"), a.opt("secs")) {
            (Some(_), None) => Ok(Self::Count(a.num("count")?)),
            (None, Some(s)) => Ok(Self::Secs(
                s.parse().map_err(|_| "--secs must be a number")?,
            )),
            _ => Err("give exactly one of --count and --secs".into()),
        }
    }
}
