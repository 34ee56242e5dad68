"""Who may do what, written out: the authorization matrix's expectations as data.

Each row of OPERATIONS is an operation (a query, a mutation or a guarded field) and, for
every role, the targets on which it must get through; on every other target it must be
refused. "*" is every target the case runs on, "-" none; targets named like "entry_own" are
written "own" when all of a row's targets share the prefix. VISIBLE says which objects
`node(id:)` shows whole to each role (hidden ones show nothing); TRAIL which identifiers the
audit trail reveals.

The roles and the world they act in are built in `test_authorization_matrix.py`: an admin
(installation-wide); a coordinator, an investigator and a monitor at site A1 of study A; a
data manager of study A and one of study B (other_dm); the participant "own" at A1 ("other"
is at A2). A change of the policy is a change of this table, reviewed as such: the test
never asks the policy what to expect.
"""

from __future__ import annotations

OPERATIONS = """
operation                             anonymous  admin  coordinator  investigator  monitor  data_manager  other_dm  participant
AdverseEvent.description              -          -      own          own           -        -             -         own
Device.serial                         -          -      own          own           -        -             -         -
DiaryEntry.changeRequests             -          *      own          own           own      *             -         own
DiaryEntry.freeText                   -          -      own          own           -        -             -         own
Mutation.acceptQuarantinedReading     -          -      own          own           -        -             -         -
Mutation.acknowledgeNotification      -          -      -            -             -        -             -         -
Mutation.acknowledgeAlert             -          *      own          own           -        -             -         -
Mutation.answerQuery                  -          -      own          own           -        -             -         -
Mutation.assignDevice                 -          *      own          own           -        -             -         -
Mutation.cancelExport                 -          *      -            -             -        a             b         -
Mutation.cancelVisit                  -          *      own          own           -        -             -         -
Mutation.changeParticipantStatus      -          *      own          own           -        -             -         -
Mutation.changePassword               -          A      A            A             A        A             A         -
Mutation.closeQuery                   -          -      -            -             own      *             -         -
Mutation.closeStudy                   -          C      -            -             -        -             -         -
Mutation.completeVisit                -          *      own          own           -        -             -         -
Mutation.confirmAdverseEvent          -          -      own          own           -        -             -         -
Mutation.confirmMedication            -          -      own          own           -        -             -         -
Mutation.correctAdverseEvent          -          -      own          own           -        -             -         -
Mutation.correctDiaryEntry            -          -      own          own           -        -             -         -
Mutation.correctMedication            -          -      own          own           -        -             -         -
Mutation.countersignConsent           -          -      -            own           -        -             -         -
Mutation.createArm                    -          *      A            -             -        -             -         -
Mutation.createDiarySchedule          -          A      A            -             -        -             -         -
Mutation.createSite                   -          *      -            -             -        -             -         -
Mutation.createStaffUser              -          A      -            -             -        -             -         -
Mutation.createStudy                  -          A      -            -             -        -             -         -
Mutation.createVisitDefinition        -          *      A            -             -        -             -         -
Mutation.createWebhookEndpoint        -          *      -            -             -        A             B         -
Mutation.deleteReading                -          -      own          own           -        -             -         -
Mutation.deleteWebhookEndpoint        -          *      -            -             -        a             b         -
Mutation.downloadMyData               -          -      own          own           -        -             -         own
Mutation.enrolInStudy                 -          *      own          own           -        -             -         -
Mutation.enrolParticipant             A          A      A            A             A        A             A         A
Mutation.eraseParticipant             -          *      -            -             -        -             -         -
Mutation.issueEnrolmentCode           -          *      own          own           -        -             -         -
Mutation.login                        A          A      A            A             A        A             A         A
Mutation.logout                       -          A      A            A             A        A             A         A
Mutation.publishConsentVersion        -          *      A            -             -        -             -         -
Mutation.publishQuestionnaire         -          *      A            -             -        -             -         -
Mutation.purgeStudy                   -          C      -            -             -        -             -         -
Mutation.raiseQuery                   -          -      -            -             own      *             -         -
Mutation.reclassifyDeviation          -          -      own          own           -        -             -         -
Mutation.recordAdverseEvent           -          -      own          own           -        -             -         -
Mutation.recordDeviation              -          -      own          own           -        -             -         -
Mutation.recordMedication             -          -      own          own           -        -             -         -
Mutation.redactParticipantContact     -          -      own          own           -        -             -         -
Mutation.refreshSession               A          A      A            A             A        A             A         A
Mutation.registerDevice               -          *      A1           A1            -        -             -         -
Mutation.registerParticipant          -          *      A1           A1            -        -             -         -
Mutation.registerPushSubscription     -          -      -            -             -        -             -         A
Mutation.rejectQuarantinedReading     -          -      own          own           -        -             -         -
Mutation.removePushSubscription       -          -      -            -             -        -             -         A
Mutation.reopenQuery                  -          -      -            -             own      *             -         -
Mutation.replayWebhooks               -          *      -            -             -        a             b         -
Mutation.reportAdverseEvent           -          -      -            -             -        -             -         own
Mutation.reportAdverseEventToSponsor  -          -      own          own           -        -             -         -
Mutation.reportMedication             -          -      -            -             -        -             -         own
Mutation.reportTimezone               -          -      -            -             -        -             -         A
Mutation.rescheduleVisit              -          *      own          own           -        -             -         -
Mutation.rotateWebhookSecret          -          *      -            -             -        a             b         -
Mutation.resolveDeviation             -          -      own          own           -        -             -         -
Mutation.scheduleVisit                -          *      own          own           -        -             -         -
Mutation.setAlertRule                 -          *      A            -             -        -             -         -
Mutation.setParticipantContact        -          -      own          own           -        -             -         -
Mutation.setSiteContact               -          *      A1           -             -        -             -         -
Mutation.setStudyReasonCodes          -          *      A            -             -        -             -         -
Mutation.setStaffGrants               -          A      -            -             -        -             -         -
Mutation.setStaffUserStatus           -          A      -            -             -        -             -         -
Mutation.setStudyRetention            -          *      -            -             -        -             -         -
Mutation.setWebhookEndpointEnabled    -          *      -            -             -        a             b         -
Mutation.signConsent                  -          -      -            -             -        -             -         A
Mutation.signRecord                   -          -      -            own           -        -             -         -
Mutation.startExport                  -          *      -            -             -        A             B         -
Mutation.submitDiaryEntries           -          -      own          own           -        -             -         own
Mutation.submitReadings               -          -      -            -             -        -             -         A
Mutation.unassignDevice               -          *      own          own           -        -             -         -
Mutation.updateWebhookEndpoint        -          *      -            -             -        a             b         -
Participant.compliance                -          own    own          own           own      own           -         own
Participant.consent                   -          own    own          own           own      own           -         own
Participant.contact                   -          -      own          own           -        -             -         own
Participant.diaryDue                  -          own    own          own           own      own           -         own
Participant.diaryEntries              -          own    own          own           own      own           -         own
Participant.notificationPlan          -          own    own          own           own      own           -         own
Participant.notificationReceipts      -          own    own          own           own      own           -         own
Participant.readingSummaries          -          own    own          own           own      own           -         own
Participant.readings                  -          own    own          own           own      own           -         own
Participant.screeningNumber           -          -      own          own           -        -             -         own
Participant.site                      -          A1     A1           A1            A1       A1            -         -
Participant.visits                    -          own    own          own           own      own           -         own
Query.adverseEvents                   -          *      own          own           own      *             -         own
Query.alerts                          -          *      A1           A1            A1       A1,A2         B1        -
Query.auditTrail                      -          *      own          own           own      *             -         -
Query.concomitantMedications          -          *      own          own           own      *             -         own
Query.dataQueries                     -          *      own          own           own      *             -         -
Query.exportSigningKey                A          A      A            A             A        A             A         A
Query.findParticipantsByContact       -          -      own          own           -        -             -         own
Query.inclusionProof                  -          *      own          own           own      *             -         own
Query.node                            -          *      A,A1,own,entry_own,device_own  A,A1,own,entry_own,device_own  A,A1,own,entry_own,device_own  A,A1,A2,own,other,entry_own,entry_other,device_own,device_other,export_a,hook_a  B,B1,export_b,hook_b  own,entry_own
Query.protocolDeviations              -          *      own          own           own      *             -         own
Query.pushApplicationServerKey        A          A      A            A             A        A             A         A
Query.quarantinedReadings             -          *      A1           A1            A1       *             -         -
Query.receiptLogKey                   A          A      A            A             A        A             A         A
Query.staffUsers                      -          A      -            -             -        -             -         -
Query.studies                         -          *      A            A             A        A             B         A
Query.study                           -          *      A            A             A        A             B         -
Query.viewer                          A          A      A            A             A        A             A         A
Query.visits                          -          *      own          own           own      *             -         own
Site.alerts                           -          *      A1           A1            A1       A1,A2         B1        -
Site.compliance                       -          A1     A1           A1            A1       A1            -         -
Site.devices                          -          own    own          own           own      own           -         -
Site.notificationReceipts             -          A1     A1           A1            A1       A1            -         -
Site.participants                     -          own    own          own           own      own           -         -
Site.study                            -          *      A1           A1            A1       A1,A2         B1        -
Study.alertRules                      -          *      A            A             A        A             B         -
Study.arms                            -          A      A            A             A        A             -         -
Study.consentVersions                 -          A      A            A             A        A             -         -
Study.diarySchedules                  -          A      A            A             A        A             -         -
Study.exports                         -          a      -            -             -        a             -         -
Study.questionnaires                  -          A      A            A             A        A             -         -
Study.sites                           -          *      A1           A1            A1       *             -         -
Study.visitDefinitions                -          A      A            A             A        A             -         -
Study.webhookEndpoints                -          a      -            -             -        a             -         -
Viewer.participant                    -          -      -            -             -        -             -         A
Visit.notes                           -          -      own          own           -        -             -         own
Visit.participant                     -          own    own          own           own      own           -         own
"""

VISIBLE = """
type         anonymous  admin  coordinator  investigator  monitor  data_manager  other_dm  participant
Device       -          *      own          own           own      *             -         -
DiaryEntry   -          *      own          own           own      *             -         own
ExportJob    -          *      -            -             -        a             b         -
WebhookEndpoint -       *      -            -             -        a             b         -
Participant  -          *      own          own           own      *             -         own
Site         -          *      A1           A1            A1       A1,A2         B1        -
Study        -          *      A            A             A        A             B         -
"""

# Which identifiers the audit trail reveals to each role (on the object the trail is about).
TRAIL = """
field                        anonymous  admin  coordinator  investigator  monitor  data_manager  other_dm  participant
Device.serial                -          -      own          own           -        -             -         -
Participant.screeningNumber  -          -      own          own           -        -             -         -
ParticipantContact.email     -          -      own          own           -        -             -         -
"""

Table = dict[str, dict[str, tuple[str, ...]]]


def parse(table: str) -> Table:
    """Row name -> role -> allowed targets ("*" kept as is, "-" as none)."""
    header, *lines = table.strip().splitlines()
    _, *roles = header.split()
    parsed: Table = {}
    for line in lines:
        name, *cells = line.split()
        assert len(cells) == len(roles), f"{name}: {len(cells)} cells for {len(roles)} roles"
        assert name not in parsed, f"{name} twice"
        parsed[name] = {
            role: () if cell == "-" else tuple(cell.split(","))
            for role, cell in zip(roles, cells, strict=True)
        }
    return parsed
