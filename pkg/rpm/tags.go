package rpm

import "github.com/rpmforge/rpmforge/pkg/rpmhdr"

// Header tag numbers, from rpm's include/rpm/rpmtag.h (rpm 4.18).
const (
	tagHeaderSignatures = 62  // region tag of the signature header
	tagHeaderImmutable  = 63  // region tag of the main header
	tagHeaderI18NTable  = 100 // locales of the i18n strings

	tagName        = 1000
	tagVersion     = 1001
	tagRelease     = 1002
	tagEpoch       = 1003
	tagSummary     = 1004
	tagDescription = 1005
	tagBuildTime   = 1006
	tagBuildHost   = 1007
	tagSize        = 1009
	tagVendor      = 1011
	tagLicense     = 1014
	tagPackager    = 1015
	tagGroup       = 1016
	tagURL         = 1020
	tagOS          = 1021
	tagArch        = 1022
	tagPreIn       = 1023
	tagPostIn      = 1024
	tagPreUn       = 1025
	tagPostUn      = 1026

	tagFileSizes       = 1028
	tagFileModes       = 1030
	tagFileRDevs       = 1033
	tagFileMTimes      = 1034
	tagFileDigests     = 1035
	tagFileLinkTos     = 1036
	tagFileFlags       = 1037
	tagFileUserName    = 1039
	tagFileGroupName   = 1040
	tagSourceRPM       = 1044
	tagFileVerifyFlags = 1045

	tagProvideName    = 1047
	tagRequireFlags   = 1048
	tagRequireName    = 1049
	tagRequireVersion = 1050
	tagConflictFlags  = 1053
	tagConflictName   = 1054
	tagConflictVer    = 1055
	tagRPMVersion     = 1064

	tagChangelogTime = 1080
	tagChangelogName = 1081
	tagChangelogText = 1082

	tagPreInProg  = 1085
	tagPostInProg = 1086
	tagPreUnProg  = 1087
	tagPostUnProg = 1088

	tagObsoleteName    = 1090
	tagFileDevices     = 1095
	tagFileInodes      = 1096
	tagFileLangs       = 1097
	tagProvideFlags    = 1112
	tagProvideVersion  = 1113
	tagObsoleteFlags   = 1114
	tagObsoleteVersion = 1115
	tagDirIndexes      = 1116
	tagBaseNames       = 1117
	tagDirNames        = 1118

	tagPayloadFormat     = 1124
	tagPayloadCompressor = 1125
	tagPayloadFlags      = 1126
	tagPlatform          = 1132
	tagFileColors        = 1140

	tagPreTrans      = 1151
	tagPostTrans     = 1152
	tagPreTransProg  = 1153
	tagPostTransProg = 1154

	tagLongFileSizes  = 5008
	tagLongSize       = 5009
	tagFileDigestAlgo = 5011
	tagVCS            = 5034

	tagRecommendName    = 5046
	tagRecommendVersion = 5047
	tagRecommendFlags   = 5048
	tagSuggestName      = 5049
	tagSuggestVersion   = 5050
	tagSuggestFlags     = 5051
	tagSupplementName   = 5052
	tagSupplementVer    = 5053
	tagSupplementFlags  = 5054
	tagEnhanceName      = 5055
	tagEnhanceVersion   = 5056
	tagEnhanceFlags     = 5057

	tagEncoding          = 5062
	tagPayloadDigest     = 5092
	tagPayloadDigestAlgo = 5093
	tagPayloadDigestAlt  = 5097
)

// Signature header tags (rpm's RPMSIGTAG_*), shared with the readers.
const (
	sigTagDSA             = rpmhdr.SigTagDSA
	sigTagRSA             = rpmhdr.SigTagRSA
	sigTagSHA1            = rpmhdr.SigTagSHA1
	sigTagLongSize        = rpmhdr.SigTagLongSize
	sigTagLongArchiveSize = rpmhdr.SigTagLongArchiveSize
	sigTagSHA256          = rpmhdr.SigTagSHA256

	sigTagSize          = rpmhdr.SigTagSize
	sigTagPGP           = rpmhdr.SigTagPGP
	sigTagMD5           = rpmhdr.SigTagMD5
	sigTagGPG           = rpmhdr.SigTagGPG
	sigTagPGP5          = 1006 // obsolete
	sigTagPayloadSize   = rpmhdr.SigTagPayloadSize
	sigTagReservedSpace = rpmhdr.SigTagReservedSpace
)

// Values stored in the header.
const (
	hashAlgoSHA256 = 8 // PGPHASHALGO_SHA256: FILEDIGESTALGO, PAYLOADDIGESTALGO

	// RPMVERIFY_* bits cleared for %ghost files.
	verifyFileDigest = 1 << 0
	verifyFileSize   = 1 << 1
	verifyLinkTo     = 1 << 2
	verifyMTime      = 1 << 5
	verifyAll        = 0xffffffff
)
