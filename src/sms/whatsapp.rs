//! `[whatsapp]`: the code as a WhatsApp authentication template, through
//! Meta's Cloud API, Twilio or MSG91. A chain like `[sms]` (provider,
//! fallback, timeouts, retries), run by the same [`Delivery`](crate::sms::Delivery).

pub mod meta;
pub mod msg91;
pub mod twilio;

use std::sync::Arc;

use serde::Deserialize;

use crate::sms::chain::ChannelSection;
use crate::sms::message::SmsSender;
use crate::validation::Problems;

pub const PROVIDERS: [&str; 3] = ["meta", "twilio", "msg91"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhatsapp {
    pub provider: Option<String>,
    pub fallback: Option<Vec<String>>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub budget: Option<String>,
    pub max_retries: Option<u32>,
    pub meta: Option<meta::RawMeta>,
    pub twilio: Option<twilio::RawTwilioWhatsapp>,
    pub msg91: Option<msg91::RawMsg91Whatsapp>,
}

#[derive(Debug, Clone)]
pub enum WhatsappProvider {
    Meta(meta::MetaConfig),
    Twilio(twilio::TwilioWhatsappConfig),
    Msg91(msg91::Msg91WhatsappConfig),
}

impl WhatsappProvider {
    pub fn sender(&self, http: reqwest::Client) -> Arc<dyn SmsSender> {
        match self {
            WhatsappProvider::Meta(c) => Arc::new(meta::MetaSender::new(c.clone(), http)),
            WhatsappProvider::Twilio(c) => {
                Arc::new(twilio::TwilioWhatsappSender::new(c.clone(), http))
            }
            WhatsappProvider::Msg91(c) => {
                Arc::new(msg91::Msg91WhatsappSender::new(c.clone(), http))
            }
        }
    }
}

impl ChannelSection for RawWhatsapp {
    type Provider = WhatsappProvider;
    const SECTION: &'static str = "whatsapp";
    const PROVIDERS: &'static [&'static str] = &PROVIDERS;

    fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }
    fn fallback(&self) -> Option<&Vec<String>> {
        self.fallback.as_ref()
    }
    fn times(&self) -> [Option<&str>; 3] {
        [
            self.timeout.as_deref(),
            self.connect_timeout.as_deref(),
            self.budget.as_deref(),
        ]
    }
    fn max_retries(&self) -> Option<u32> {
        self.max_retries
    }
    fn table(&self, name: &str, problems: &mut Problems) -> Option<WhatsappProvider> {
        let missing = |problems: &mut Problems| {
            problems.push(
                format!("whatsapp.{name}"),
                format!("whatsapp.provider or fallback names \"{name}\" but there is no [whatsapp.{name}] table"),
            );
        };
        match name {
            "meta" => match &self.meta {
                Some(t) => meta::MetaConfig::validate(t, problems).map(WhatsappProvider::Meta),
                None => {
                    missing(problems);
                    None
                }
            },
            "twilio" => match &self.twilio {
                Some(t) => twilio::TwilioWhatsappConfig::validate(t, problems)
                    .map(WhatsappProvider::Twilio),
                None => {
                    missing(problems);
                    None
                }
            },
            "msg91" => match &self.msg91 {
                Some(t) => {
                    msg91::Msg91WhatsappConfig::validate(t, problems).map(WhatsappProvider::Msg91)
                }
                None => {
                    missing(problems);
                    None
                }
            },
            _ => None,
        }
    }
}
