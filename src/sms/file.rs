//! `provider = "file"`: appends one JSON object per message,
//! `{"to":"+91…","body":"…"}`, to `[sms.file] path` (for tests and for
//! operators who relay messages themselves).

use std::path::PathBuf;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::sms::message::{SmsError, SmsMessage, SmsReceipt, SmsSender, TransientKind};
use crate::validation::{required, Problems};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    pub path: PathBuf,
}

impl FileConfig {
    pub fn validate(raw: &RawFile, problems: &mut Problems) -> Option<FileConfig> {
        let path = required(problems, "sms.file.path", raw.path.as_ref())?;
        Some(FileConfig { path: path.into() })
    }
}

pub struct FileSender {
    path: PathBuf,
    /// Serialises appends so that two messages never interleave within a
    /// line, whatever the platform's guarantees for `O_APPEND` writes.
    write_lock: Mutex<()>,
}

impl FileSender {
    pub fn new(cfg: FileConfig) -> Self {
        FileSender {
            path: cfg.path,
            write_lock: Mutex::new(()),
        }
    }

    async fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let _guard = self.write_lock.lock().await;
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await?;
        file.write_all(line).await?;
        file.flush().await
    }
}

#[async_trait::async_trait]
impl SmsSender for FileSender {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let mut line = serde_json::json!({ "to": msg.to, "body": msg.body }).to_string();
        line.push('\n');
        self.append(line.as_bytes()).await.map_err(|err| {
            tracing::error!(path = %self.path.display(), error = %err, "sms: cannot append");
            SmsError::transient(TransientKind::Io)
        })?;
        Ok(SmsReceipt {
            provider: "file",
            message_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{FileConfig, FileSender};
    use crate::sms::message::{SmsMessage, SmsSender};

    #[tokio::test]
    async fn appends_one_json_line_per_message_creating_the_directory() {
        let dir = std::env::temp_dir().join(format!("otpgate-sms-file-{}", std::process::id()));
        let path = dir.join("nested").join("sms.jsonl");
        let _ = std::fs::remove_dir_all(&dir);
        let sender = std::sync::Arc::new(FileSender::new(FileConfig { path: path.clone() }));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let sender = sender.clone();
            tasks.push(tokio::spawn(async move {
                let msg = SmsMessage {
                    to: format!("+9198123456{i:02}"),
                    region: "IN".into(),
                    body: format!("{i} \"quoted\"\nआपका कोड"),
                    code: i.to_string(),
                    lang: "en".into(),
                };
                sender.send(&msg).await.map(|_| ())
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 20);
        for line in &lines {
            let obj = line.as_object().unwrap();
            assert_eq!(obj.len(), 2, "only to and body: {line}");
            assert!(obj["body"]
                .as_str()
                .unwrap()
                .ends_with("\"quoted\"\nआपका कोड"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
