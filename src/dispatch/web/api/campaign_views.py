"""Campaign rows → API models, and the campaign work that needs more than one call.

`test_copy` makes the test campaign of an existing one: the same content through the
same `create_*` functions, marked as a test to one address (`Options.test_to`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dispatch.campaigns import Options, create_article, create_digest, create_note
from dispatch.campaigns.content import TEST_PREFIX, CampaignRenderer, load_articles, render_campaign
from dispatch.campaigns.control import CampaignDetails
from dispatch.campaigns.create import Created, DigestPlan
from dispatch.campaigns.results import Results
from dispatch.config import Settings
from dispatch.errors import NotFound
from dispatch.render.preview import SAMPLE, sample_email
from dispatch.store.models import Campaign, CampaignKind
from dispatch.web.api.schemas import (
    CampaignDetail,
    CampaignOut,
    DeliveryError,
    PreviewOut,
    ProgressOut,
    ResultsOut,
)

MAX_ID = 2**31 - 1


def get(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def kind_of(campaign: Campaign) -> str:
    if campaign.body_markdown is not None:
        return "note"
    if campaign.kind == CampaignKind.WELCOME:
        return "welcome"
    return "digest" if campaign.kind == CampaignKind.DIGEST else "article"


def campaign_out(campaign: Campaign) -> CampaignOut:
    return CampaignOut(**_fields(campaign))


def _fields(campaign: Campaign) -> dict[str, object]:
    names = CampaignOut.model_fields.keys() - {"list", "kind", "segment"}
    values = {name: getattr(campaign, name) for name in names}
    segment = campaign.segment.name if campaign.segment is not None else None
    return values | {
        "list": campaign.mailing_list.slug,
        "kind": kind_of(campaign),
        "segment": segment,
    }


def detail(found: CampaignDetails, results: Results) -> CampaignDetail:
    campaign, p = found.campaign, found.progress
    bounced = p.bounced
    progress = ProgressOut(
        total=p.total,
        meant=p.meant,
        pending=p.pending,
        sending=p.sending,
        sent=p.sent - bounced,
        failed=p.failed,
        skipped=p.skipped,
        cancelled=p.cancelled,
        bounced=bounced,
        done=p.done,
        percent=round(100 * p.done / p.meant, 1) if p.meant > 0 else 0.0,
        in_doubt=p.in_doubt,
        running=p.running,
        auto_resume_at=p.auto_resume_at,
        last_errors=[DeliveryError(email=e, error=m) for e, m in found.errors],
    )
    return CampaignDetail(
        **_fields(campaign), progress=progress, results=ResultsOut(**results.as_json())
    )


def preview(session: Session, settings: Settings, campaign: Campaign, now: datetime) -> PreviewOut:
    """The campaign's message as it would go out now, for the sample recipient."""
    prepared = render_campaign(CampaignRenderer(settings), session, campaign, now)
    sample = sample_email(prepared, settings, settings.list(campaign.mailing_list.slug))
    return PreviewOut(
        subject=prepared.subject,
        preheader=prepared.preheader,
        html=sample.html,
        text=sample.text,
        recipient=SAMPLE.email,
        warnings=list(prepared.warnings),
    )


def test_copy(
    session: Session, settings: Settings, campaign: Campaign, to: str, now: datetime
) -> Created:
    """A new test campaign with the content of `campaign`, to `to` only."""
    options = Options(test_to=to)
    list_slug = campaign.mailing_list.slug
    if campaign.body_markdown is not None:
        subject = campaign.subject.removeprefix(TEST_PREFIX)
        return create_note(
            session, settings, list_slug, subject, campaign.body_markdown, now, options
        )
    articles = load_articles(session, campaign)
    if campaign.kind == CampaignKind.DIGEST:
        plan = DigestPlan(list_slug, now, now, articles)
        created = create_digest(session, settings, plan, options)
        assert created is not None  # the plan has articles
        return created
    return create_article(session, settings, articles[0].slug, list_slug, now, options)
