//! Outgoing mail (verification and password-reset links): a minimal plain
//! SMTP client over a tokio `TcpStream` when `KIWI_SMTP_*` is set, otherwise
//! the message (with its link) is written to the log at info level.
//!
//! Tests switch on [`Mailer::capture`] to read messages instead of logs.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::SmtpConfig;

/// Whole-conversation time limit for one SMTP delivery.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// One outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends mail; cheap to share.
#[derive(Debug)]
pub struct Mailer {
    smtp: Option<SmtpConfig>,
    captured: Mutex<Option<Vec<Mail>>>,
}

impl Mailer {
    pub fn new(smtp: Option<SmtpConfig>) -> Self {
        Self { smtp, captured: Mutex::new(None) }
    }

    /// Test hook: from now on keep a copy of every message (`false` stops and clears).
    pub fn capture(&self, on: bool) {
        *self.captured.lock() = if on { Some(Vec::new()) } else { None };
    }

    /// Test hook: the captured messages, oldest first.
    pub fn captured(&self) -> Vec<Mail> {
        self.captured.lock().clone().unwrap_or_default()
    }

    /// Sends in the background (SMTP) or logs; never fails the caller.
    pub fn send(&self, mail: Mail) {
        if let Some(list) = self.captured.lock().as_mut() {
            list.push(mail.clone());
        }
        match &self.smtp {
            Some(smtp) => {
                let smtp = smtp.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(SMTP_TIMEOUT, send_smtp(&smtp, &mail)).await {
                        Ok(Ok(())) => tracing::info!(subject = %mail.subject, "mail sent"),
                        Ok(Err(e)) => {
                            tracing::warn!(subject = %mail.subject, error = %format!("{e:#}"), "mail delivery failed")
                        }
                        Err(_) => {
                            tracing::warn!(subject = %mail.subject, "mail delivery timed out")
                        }
                    }
                });
            }
            None => {
                tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "mail (SMTP not configured; KIWI_SMTP_HOST unset)");
            }
        }
    }
}

/// Reads one (possibly multi-line) SMTP reply and returns its code.
async fn read_reply<R: AsyncBufReadExt + Unpin>(r: &mut R) -> anyhow::Result<u16> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            anyhow::bail!("SMTP server closed the connection");
        }
        if line.len() < 3 {
            anyhow::bail!("malformed SMTP reply");
        }
        let code: u16 = line[..3].parse().map_err(|_| anyhow::anyhow!("malformed SMTP reply"))?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
}

async fn command<S>(stream: &mut BufReader<S>, cmd: &str, expect: &[u16]) -> anyhow::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.get_mut().write_all(format!("{cmd}\r\n").as_bytes()).await?;
    let code = read_reply(stream).await?;
    if !expect.contains(&code) {
        let verb = cmd.split([' ', ':']).next().unwrap_or("");
        anyhow::bail!("SMTP {verb}: server answered {code}");
    }
    Ok(())
}

/// The DATA payload: headers, a blank line, the CRLF-normalised, dot-stuffed body.
pub fn message_data(from: &str, mail: &Mail, message_id: &str) -> String {
    let mut out = format!(
        "From: {from}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        mail.to, mail.subject
    );
    for line in mail.body.replace("\r\n", "\n").split('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// Delivers one message over plain SMTP (no TLS, no AUTH: a local relay).
pub async fn send_smtp(smtp: &SmtpConfig, mail: &Mail) -> anyhow::Result<()> {
    for v in [&mail.to, &mail.subject, &smtp.from] {
        if v.contains(['\r', '\n']) {
            anyhow::bail!("refusing a header with a line break");
        }
    }
    let tcp = TcpStream::connect((smtp.host.as_str(), smtp.port)).await?;
    let mut s = BufReader::new(tcp);
    let code = read_reply(&mut s).await?;
    if code != 220 {
        anyhow::bail!("SMTP greeting: server answered {code}");
    }
    let helo_host = smtp.from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost").to_owned();
    if command(&mut s, &format!("EHLO {helo_host}"), &[250]).await.is_err() {
        command(&mut s, &format!("HELO {helo_host}"), &[250]).await?;
    }
    command(&mut s, &format!("MAIL FROM:<{}>", smtp.from), &[250]).await?;
    // 251: "user not local; will forward" is a success too.
    command(&mut s, &format!("RCPT TO:<{}>", mail.to), &[250, 251]).await?;
    command(&mut s, "DATA", &[354]).await?;
    let id = format!("{}@{helo_host}", hex::encode(rand::random::<[u8; 12]>()));
    let data = message_data(&smtp.from, mail, &id);
    s.get_mut().write_all(data.as_bytes()).await?;
    let code = read_reply(&mut s).await?;
    if code != 250 {
        anyhow::bail!("SMTP end of DATA: server answered {code}");
    }
    let _ = command(&mut s, "QUIT", &[221]).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    #[test]
    fn data_is_dot_stuffed_and_crlf() {
        let m = Mail { to: "a@example.com".into(), subject: "Hi".into(), body: "line1\n.hidden\nend".into() };
        let d = message_data("kiwi@example.com", &m, "x@example.com");
        assert!(d.contains("\r\n\r\nline1\r\n..hidden\r\nend\r\n.\r\n"), "{d}");
        assert!(d.starts_with("From: kiwi@example.com\r\nTo: a@example.com\r\nSubject: Hi\r\n"));
    }

    #[tokio::test]
    async fn talks_to_a_fake_smtp_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            sock.write_all(b"220 fake ESMTP\r\n").await.unwrap();
            let mut transcript = Vec::new();
            let mut buf = [0u8; 4096];
            let mut in_data = false;
            loop {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                transcript.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&transcript).to_string();
                if !text.ends_with("\r\n") {
                    continue; // a partial line: wait for the rest
                }
                let reply: &[u8] = if in_data {
                    if !text.ends_with("\r\n.\r\n") {
                        continue;
                    }
                    in_data = false;
                    b"250 queued\r\n"
                } else if text.ends_with("EHLO example.com\r\n") {
                    b"250-fake\r\n250 8BITMIME\r\n"
                } else if text.ends_with("DATA\r\n") {
                    in_data = true;
                    b"354 go\r\n"
                } else if text.ends_with("QUIT\r\n") {
                    sock.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                } else {
                    b"250 ok\r\n"
                };
                sock.write_all(reply).await.unwrap();
            }
            String::from_utf8(transcript).unwrap()
        });
        let smtp = SmtpConfig { host: "127.0.0.1".into(), port, from: "kiwi@example.com".into() };
        let mail =
            Mail { to: "bob@example.org".into(), subject: "Verify".into(), body: "Click https://x/y?token=abc".into() };
        send_smtp(&smtp, &mail).await.unwrap();
        let t = server.await.unwrap();
        assert!(t.contains("MAIL FROM:<kiwi@example.com>\r\n"), "{t}");
        assert!(t.contains("RCPT TO:<bob@example.org>\r\n"), "{t}");
        assert!(t.contains("Subject: Verify\r\n"), "{t}");
        assert!(t.contains("token=abc\r\n.\r\n"), "{t}");
    }

    #[tokio::test]
    async fn capture_hook_keeps_copies() {
        let m = Mailer::new(None);
        m.send(Mail { to: "a@example.com".into(), subject: "s".into(), body: "b".into() });
        assert!(m.captured().is_empty());
        m.capture(true);
        m.send(Mail { to: "a@example.com".into(), subject: "s".into(), body: "b".into() });
        assert_eq!(m.captured().len(), 1);
    }
}
