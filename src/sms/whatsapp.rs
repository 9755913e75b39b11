//! `[whatsapp]`: the code as a WhatsApp authentication template, through
//! Meta's Cloud API, Twilio or MSG91. A chain like `[sms]` (provider,
//! fallback, timeouts, retries), run by the same [`Delivery`](crate::sms::Delivery).

pub mod meta;
pub mod msg91;
pub mod twilio;

use std::sync::Arc;

use serde::Deserialize;

use crate::sms::chain::{table_of, ChannelSection};
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
        match name {
            "meta" => table_of("whatsapp", name, self.meta.as_ref(), problems, |t, p| {
                meta::MetaConfig::validate(t, p).map(WhatsappProvider::Meta)
            }),
            "twilio" => table_of("whatsapp", name, self.twilio.as_ref(), problems, |t, p| {
                twilio::TwilioWhatsappConfig::validate(t, p).map(WhatsappProvider::Twilio)
            }),
            "msg91" => table_of("whatsapp", name, self.msg91.as_ref(), problems, |t, p| {
                msg91::Msg91WhatsappConfig::validate(t, p).map(WhatsappProvider::Msg91)
            }),
            _ => None,
        }
    }
}
