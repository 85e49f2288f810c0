import phonenumbers as pn
from phonenumbers import PhoneNumberType as T, NumberParseException
names = {T.FIXED_LINE:'fixed_line',T.MOBILE:'mobile',T.FIXED_LINE_OR_MOBILE:'fixed_line_or_mobile',T.TOLL_FREE:'toll_free',T.PREMIUM_RATE:'premium_rate',T.SHARED_COST:'shared_cost',T.VOIP:'voip',T.PERSONAL_NUMBER:'personal_number',T.PAGER:'pager',T.UAN:'uan',T.VOICEMAIL:'voicemail'}
def answer(s, region):
    try:
        n = pn.parse(s, region)
    except NumberParseException:
        return 'invalid'
    if not pn.is_valid_number(n): return 'invalid'
    r = pn.region_code_for_number(n)
    return '%s %s %s' % (pn.format_number(n, pn.PhoneNumberFormat.E164), r if r != '001' else '-', names[pn.number_type(n)])
import sys
out = open(sys.argv[1] if len(sys.argv) > 1 else '/tmp/py_cases.tsv', 'w')
regions = sorted(pn.SUPPORTED_REGIONS)
ex = []
for r in regions:
    for t in names:
        n = pn.example_number_for_type(r, t)
        if n: ex.append((r, n))
for cc in sorted(pn.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
    md = pn.PhoneMetadata.metadata_for_nongeo_region(cc)
    for desc in [md.fixed_line, md.mobile, md.toll_free, md.premium_rate, md.shared_cost, md.personal_number, md.voip, md.pager, md.uan, md.voicemail]:
        if desc and desc.example_number:
            ex.append(('001', pn.parse('+%d%s' % (cc, desc.example_number), None)))
seen = set()
for r, n in ex:
    nsn = pn.national_significant_number(n); cc = n.country_code
    cases = [nsn, nsn[:-1], nsn+'0', nsn+'9', '0'*len(nsn)] + ['%d%s' % (d, nsn[1:]) for d in range(10)]
    for c in cases:
        s = '+%d%s' % (cc, c)
        if s in seen: continue
        seen.add(s)
        out.write('%s\t\t%s\n' % (s, answer(s, None)))
    if r != '001':
        nat = pn.format_number(n, pn.PhoneNumberFormat.NATIONAL)
        out.write('%s\t%s\t%s\n' % (nat, r, answer(nat, r)))
        # national digits with the country code but no plus
        s2 = '%d%s' % (cc, nsn)
        out.write('%s\t%s\t%s\n' % (s2, r, answer(s2, r)))
        s3 = '00 %d %s' % (cc, nsn)
        out.write('%s\t%s\t%s\n' % (s3, r, answer(s3, r)))
print(len(ex), 'examples')
